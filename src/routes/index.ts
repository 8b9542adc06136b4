import type { FastifyContextConfig, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { markOwnHandler } from '../error-handler.ts'
import { type RouteDocs, routeDocs, securityRequirement, securitySchemeAdder } from '../openapi.ts'
import type { AuthService } from '../service/auth-service.ts'
import { loginRoute } from './login.ts'
import { logoutRoute } from './logout.ts'
import { meRoute } from './me.ts'
import { passwordRoute } from './password.ts'
import { refreshRoute } from './refresh.ts'
import type { MeField, RegisterField } from './options.ts'
import { registerRoute } from './register.ts'
import { sessionRoutes } from './sessions.ts'
import { oauthRoutes } from './oauth.ts'
import { emailChangeRoutes } from './email-change.ts'
import { passwordResetRoutes } from './password-reset.ts'
import { verifyEmailRoutes } from './verify-email.ts'
import { routesAjv } from './validator.ts'
import type { ResolvedTransport } from '../transport/options.ts'

export interface AuthRoutesOptions {
  prefix: string
  bodyLimit: number
  tags: readonly string[]
  registerFields: readonly RegisterField[]
  meFields: readonly MeField[]
  service: () => AuthService
  transport: ResolvedTransport
  /** The full path of /refresh: where the refresh cookie is sent. */
  refreshPath: string
  /** Mount the email verification, password reset and email change routes (a `mailer` is configured). */
  accountRoutes: boolean
  /** Mount the provider sign-in routes (`providers` are configured). */
  providerRoutes: boolean
}

export interface RouteContext extends Pick<AuthRoutesOptions, 'service' | 'bodyLimit' | 'registerFields' | 'meFields' | 'transport' | 'refreshPath'> {
  /** The document part of a route's schema (tags, summary, operationId, security). */
  docs: (operationId: string, summary: string, secured: boolean) => RouteDocs
  /** Every bundled route's config: @fastify/swagger adds the security scheme through it. */
  config: () => FastifyContextConfig
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request'
}

/**
 * The bundled routes' other errors (validation, body parsing, anything unexpected) as `{ detail, code }`, with
 * nothing internal (SQL, stack, path) in a 5xx. AuthErrors never come here: the plugin's error path answers them.
 */
function errorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.validation !== undefined) {
    const [first] = error.validation
    const extra = first.keyword === 'additionalProperties'
      ? ` (unexpected property '${String(first.params.additionalProperty)}')`
      : ''
    const detail = `${String(error.validationContext)}${first.instancePath} ${String(first.message)}${extra}`
    return reply.code(400).send({ detail, code: 'invalid_request' })
  }
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) {
    const code = FASTIFY_CODES[error.code] ?? 'bad_request'
    return reply.code(status).send({ detail: error.message, code })
  }
  request.log.error({ err: error }, 'fastify-drizzle-auth: route failed')
  return reply.code(500).send({ detail: 'Internal server error', code: 'internal_error' })
}

/** The bundled routes, in their own encapsulated context: prefix, validator, error handler. */
export async function authRoutes (fastify: FastifyInstance, options: AuthRoutesOptions): Promise<void> {
  fastify.setValidatorCompiler(({ schema }) => routesAjv.compile(schema))
  fastify.setErrorHandler(errorHandler)
  markOwnHandler(fastify)
  const addSchemes = securitySchemeAdder(options.transport)
  const context: RouteContext = {
    service: options.service,
    bodyLimit: options.bodyLimit,
    registerFields: options.registerFields,
    meFields: options.meFields,
    transport: options.transport,
    refreshPath: options.refreshPath,
    docs: (operationId, summary, secured) => routeDocs(options.tags, operationId, summary, secured && securityRequirement(options.transport)),
    // Typed loosely on purpose: @fastify/swagger declares `swaggerTransform` itself, when an application loads it.
    config: () => ({ swaggerTransform: addSchemes }) as unknown as FastifyContextConfig
  }
  registerRoute(fastify, context)
  loginRoute(fastify, context)
  meRoute(fastify, context)
  logoutRoute(fastify, context)
  refreshRoute(fastify, context)
  passwordRoute(fastify, context)
  sessionRoutes(fastify, context)
  if (options.providerRoutes) oauthRoutes(fastify, context)
  if (options.accountRoutes) {
    verifyEmailRoutes(fastify, context)
    passwordResetRoutes(fastify, context)
    emailChangeRoutes(fastify, context)
  }
}
