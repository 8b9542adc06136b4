import type { FastifyInstance, RouteOptions } from 'fastify'
import { ConfigurationError } from './errors.ts'

/** The name of the security scheme in the OpenAPI document. */
export const SECURITY_SCHEME_NAME = 'bearerAuth'

/** For applications that configure @fastify/swagger themselves: `openapi: { components: { securitySchemes } }`. */
export const securitySchemes = Object.freeze({
  [SECURITY_SCHEME_NAME]: Object.freeze({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } as const)
})

/** `$id` of the one error schema every error response of the bundled routes refers to. */
export const ERROR_SCHEMA_ID = 'FastifyDrizzleAuthError'

/** The name of the cookie scheme, documented when tokens may travel in cookies (`tokenTransport`). */
export const COOKIE_SCHEME_NAME = 'cookieAuth'

type SecurityRequirement = ReadonlyArray<Readonly<Record<string, readonly string[]>>>

/** What the transport documents: the bearer scheme, the access cookie, or either (alternatives). */
export interface DocumentedTransport {
  bearer: boolean
  cookie: boolean
  names: { access: string }
}

/** `security` of a route that needs a token: one alternative per way the token may come. */
export function securityRequirement (transport: DocumentedTransport): SecurityRequirement {
  const alternatives: Array<Record<string, readonly string[]>> = []
  if (transport.bearer) alternatives.push({ [SECURITY_SCHEME_NAME]: [] })
  if (transport.cookie) alternatives.push({ [COOKIE_SCHEME_NAME]: [] })
  return Object.freeze(alternatives)
}

/**
 * Error bodies: `{ detail, code }` (plus `errors` for a refused password) by default. Open to other properties
 * and with nothing required, because an application's error handler may restyle any denial.
 */
const errorSchema = {
  $id: ERROR_SCHEMA_ID,
  title: ERROR_SCHEMA_ID,
  type: 'object',
  additionalProperties: true,
  properties: {
    detail: { type: 'string' },
    code: { type: 'string' },
    errors: { type: 'array', items: { type: 'string' } }
  }
} as const

/** Registers the shared error schema once (a second registration of the plugin reuses it). */
export function addErrorSchema (fastify: FastifyInstance): void {
  if (fastify.getSchema(ERROR_SCHEMA_ID) === undefined) fastify.addSchema(errorSchema)
}

/** What a bundled route's schema says for the document: tags, summary, operation id, security. */
export interface RouteDocs {
  tags: string[]
  summary: string
  operationId: string
  security: SecurityRequirement
}

export function routeDocs (tags: readonly string[], operationId: string, summary: string, secured: SecurityRequirement | false): RouteDocs {
  return { tags: [...tags], summary, operationId, security: secured === false ? [] : secured }
}

/**
 * @fastify/swagger runs a route's `config.swaggerTransform` with the document being built: the bundled routes
 * use it to add the security schemes they refer to, whatever options the application gave @fastify/swagger.
 */
export function securitySchemeAdder (transport: DocumentedTransport) {
  return function addSecuritySchemes ({ schema, url, openapiObject }: SwaggerTransformArgument): { schema: unknown, url: string } {
    const components = (openapiObject.components ??= {}) as Record<string, unknown>
    const schemes = (components.securitySchemes ??= {}) as Record<string, unknown>
    if (transport.bearer) schemes[SECURITY_SCHEME_NAME] ??= { ...securitySchemes[SECURITY_SCHEME_NAME] }
    if (transport.cookie) schemes[COOKIE_SCHEME_NAME] ??= { type: 'apiKey', in: 'cookie', name: transport.names.access }
    return { schema, url }
  }
}

interface SwaggerTransformArgument {
  schema: unknown
  url: string
  openapiObject: Record<string, unknown>
}

const guards = new WeakSet<object>()

/** Marks a function as one of the plugin's guards, so routes using it are documented as needing a token. */
export function markGuard<T extends object> (guard: T): T {
  guards.add(guard)
  return guard
}

function usesGuard (hooks: unknown): boolean {
  if (typeof hooks === 'function') return guards.has(hooks)
  return Array.isArray(hooks) && hooks.some((hook) => typeof hook === 'function' && guards.has(hook))
}

/**
 * Documents the application's routes that use a guard as a hook: `security` (bearer) on the schema, unless
 * the application wrote one. `hook` runs as an onRoute hook, so @fastify/swagger sees it whenever it builds the
 * document; `count` is how many routes it documented.
 */
export function guardedRouteDocumenter (security: SecurityRequirement): { hook: (route: RouteOptions) => void, count: () => number } {
  let documented = 0
  return {
    hook (route) {
      if (!usesGuard(route.onRequest) && !usesGuard(route.preValidation) && !usesGuard(route.preHandler)) return
      const schema = (route.schema ?? {}) as Record<string, unknown>
      if (schema.security !== undefined) return
      route.schema = { ...schema, security } as RouteOptions['schema']
      documented++
    },
    count: () => documented
  }
}

/**
 * At ready, with whether @fastify/swagger was there when the plugin registered. It documents only the routes
 * declared after it: registered after the plugin, it would leave the bundled routes out. Without bundled routes,
 * nothing adds the security scheme the guarded routes refer to: the application's swagger options must, and
 * building the document says so when they do not.
 */
export function checkSwagger (fastify: FastifyInstance, swaggerBefore: boolean, bundledRoutes: boolean, guardedRoutes: number): void {
  if (!fastify.hasDecorator('swagger')) return
  if (bundledRoutes) {
    if (swaggerBefore) return
    throw new ConfigurationError('fastify-drizzle-auth: @fastify/swagger was registered after this plugin, so the bundled routes ' +
      'are missing from its document: register @fastify/swagger first')
  }
  if (guardedRoutes === 0) return
  // The document is built after ready: a missing scheme shows then, as @fastify/swagger's own TypeError.
  const holder = fastify as unknown as { swagger: (...args: unknown[]) => unknown }
  const build = holder.swagger
  holder.swagger = function swaggerWithSchemeCheck (this: unknown, ...args: unknown[]) {
    try {
      return build.apply(this, args)
    } catch (err) {
      if (!(err instanceof TypeError)) throw err
      throw new ConfigurationError(`fastify-drizzle-auth: @fastify/swagger cannot build its document (${err.message}): ` +
        "routes use the plugin's guards but no bundled route adds the bearer scheme: pass " +
        "`openapi: { components: { securitySchemes } }` (securitySchemes from 'fastify-drizzle-auth') to @fastify/swagger")
    }
  }
}
