import type { FastifyInstance } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fp from 'fastify-plugin'
import { createBearerHook } from './bearer.ts'
import { installErrorPath } from './error-handler.ts'
import { jwtCoexistence } from './jwt-coexistence.ts'
import { addErrorSchema, checkSwagger, guardedRouteDocumenter, securityRequirement } from './openapi.ts'
import { ConfigurationError, ServiceUnavailableError } from './errors.ts'
import type { AuthService } from './service/auth-service.ts'
import { type FastifyDrizzleAuthOptions, resolvePluginOptions } from './options.ts'
import { authRoutes } from './routes/index.ts'
import { databaseFailure } from './service/url-password.ts'
import type { AuthInfo } from './types.ts'

async function fastifyDrizzleAuthPlugin (fastify: FastifyInstance, options: FastifyDrizzleAuthOptions): Promise<void> {
  if (fastify.hasDecorator('authService')) {
    throw new ConfigurationError('fastify-drizzle-auth is registered twice where one registration is visible to the other (it ' +
      'registers with fastify-plugin, so it covers the context it is registered in and every child): register it once')
  }
  const resolved = resolvePluginOptions(options, fastify.log)
  const { config, service } = resolved
  await awaitStore(fastify, resolved.eager, config.storage.database)

  // No @fastify/jwt of the plugin's own: `fastify.jwt` and `request.jwtVerify()` stay the application's.
  // `request.user` is not decorated either, so @fastify/jwt can decorate it when registered after the plugin.
  const coexistence = jwtCoexistence(config)
  fastify.addHook('onRoute', function checkJwtOfRouteContext () { coexistence.check(this) })
  const swaggerBefore = fastify.hasDecorator('swagger')
  const guardedRoutes = guardedRouteDocumenter(securityRequirement(resolved.transport))
  fastify.addHook('onReady', async function checkNeighbours () {
    coexistence.check(fastify)
    await coexistence.settle()
    checkSwagger(fastify, swaggerBefore, resolved.routes !== false, guardedRoutes.count())
  })
  // OpenAPI: one error schema for every error response, and `security` on the application's guarded routes.
  addErrorSchema(fastify)
  fastify.addHook('onRoute', guardedRoutes.hook)
  fastify.decorateRequest('auth', null as unknown as AuthInfo)
  fastify.decorate('authService', { getter: service })

  // Provider sign-in binds its flow to the browser with a cookie, whatever the tokens travel in.
  const providers = Object.keys(config.providers ?? {}).length > 0
  if ((resolved.transport.cookie || providers) && !fastify.hasReplyDecorator('setCookie')) await fastify.register(fastifyCookie)
  fastify.addHook('onRequest', createBearerHook(service, resolved.scopesFor, coexistence.setUser, resolved.transport))
  installErrorPath(fastify)

  if (resolved.routes !== false) {
    // Fastify's own `prefix` of this registration composes with `routes.prefix`, as nested prefixes do.
    const prefix = `${resolved.prefix}${resolved.routes.prefix}`
    await fastify.register(authRoutes, {
      ...resolved.routes,
      prefix,
      service,
      transport: resolved.transport,
      refreshPath: resolved.transport.refreshOnRoot ? '/' : `${prefix}/refresh`,
      accountRoutes: config.account.mailer !== undefined,
      providerRoutes: providers
    })
  }

  const stopPurging = schedulePurge(fastify, service, config.purgeIntervalSeconds)
  // Mail goes out once the server is ready: a message queued by an earlier run (or a crashed one) included.
  if (config.account.mailer !== undefined) fastify.addHook('onReady', async () => { service().startMailDelivery() })
  // Discovery documents are fetched at start; a provider that cannot be reached is a warning, not a failed start.
  if (providers) fastify.addHook('onReady', async () => { void service().oauth.warmUp((details, message) => fastify.log.warn(details, message)) })
  fastify.addHook('onClose', async () => {
    stopPurging()
    if (config.account.mailer !== undefined) await service().stopMailDelivery()
    if (resolved.ownsService()) await service().close()
  })
}

/**
 * Waits for the store (PostgreSQL: migrations). A database that cannot be reached does not stop the
 * application: requests that need it get 503 until it answers. A refusal that will not fix itself (unknown
 * database, authentication failed, permission denied, a migration that cannot apply) fails ready() with the
 * database's own reason, never with the URL's password.
 */
async function awaitStore (fastify: FastifyInstance, service: AuthService | undefined, database: unknown): Promise<void> {
  try {
    await service?.ready()
  } catch (err) {
    if (!(err instanceof ServiceUnavailableError)) throw err
    // The service's errors carry the driver's code and message as their cause.
    const cause = err.cause as Error & { code?: unknown }
    if (!err.unreachable) {
      throw new ConfigurationError(`fastify-drizzle-auth: the database refused at start: ${databaseFailure(cause, database)}`)
    }
    fastify.log.warn({ code: cause.code },
      'fastify-drizzle-auth: the database cannot be reached yet; requests that need it get 503 until it answers')
  }
}

/**
 * Runs `purgeExpired()` every `seconds` (0: never) once the server is ready, so ended sessions, tokens and
 * counters do not pile up; on PostgreSQL the store lets one instance at a time do it. A failure is logged and
 * the next tick tries again. Returns what stops it.
 */
function schedulePurge (fastify: FastifyInstance, service: () => AuthService, seconds: number): () => void {
  if (seconds === 0) return () => {}
  // Overlapping runs are harmless (SQLite serializes them, PostgreSQL lets one hold the lock), so none is skipped.
  const timer = setInterval(() => {
    service().purgeExpired().catch((err: unknown) => {
      fastify.log.warn({ code: (err as { code?: unknown }).code }, 'fastify-drizzle-auth: purging expired rows failed, will try again')
    })
  }, seconds * 1000)
  // Never the reason the process stays alive.
  timer.unref()
  return () => { clearInterval(timer) }
}

/** The plugin: bearer authentication on every request, guards, and (optionally) the bundled routes. */
export const fastifyDrizzleAuth = fp(fastifyDrizzleAuthPlugin, {
  name: 'fastify-drizzle-auth',
  fastify: '5.x'
})
