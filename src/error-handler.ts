import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify'
import { AuthError } from './errors.ts'

type ErrorHandler = (this: FastifyInstance, error: FastifyError, request: FastifyRequest, reply: FastifyReply) => unknown

/** The one formatter: every AuthError, wherever it was raised, answers with its status, headers and body. */
export function sendAuthError (error: AuthError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.statusCode >= 500) request.log.error({ code: error.code }, `fastify-drizzle-auth: ${error.message}`)
  return reply.code(error.statusCode).headers(error.headers)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(error.body()))
}

/**
 * Fastify's own default error handler, known by identity: a minifier renames functions, so its name proves
 * nothing. A throwaway instance (never started, holding nothing) hands it over; found once, at registration.
 */
let fastifyDefault: ErrorHandler | undefined
function fastifyDefaultHandler (): ErrorHandler {
  fastifyDefault ??= Fastify({ logger: false }).errorHandler as ErrorHandler
  return fastifyDefault
}

/** Error handlers the plugin itself set (the bundled routes' own): they are not the application's. */
const ownHandlers = new WeakSet<object>()

export function markOwnHandler (instance: FastifyInstance): void {
  ownHandlers.add(instance.errorHandler)
}

/**
 * The application's error handler for a request, if it has one: the route's own, else the one of the route's
 * context (set at the root or in a child plugin, before or after this plugin). For the bundled routes, whose
 * context has the plugin's handler, it is the one of the context the plugin was registered in.
 */
function applicationHandler (request: FastifyRequest, own: ErrorHandler | undefined, pluginScope: FastifyInstance): ErrorHandler | undefined {
  if (own !== undefined) return own
  let handler = request.server.errorHandler
  if (ownHandlers.has(handler)) handler = pluginScope.errorHandler
  // Fastify's default answers with its own shape: without an application handler, the formatter applies.
  return handler === fastifyDefaultHandler() ? undefined : handler as ErrorHandler
}

/**
 * A route-level error handler for every route declared after the plugin. Errors that are not AuthErrors go on
 * to the application's handlers exactly as before. An AuthError is offered to the application's handler first,
 * so it can restyle any denial; if it answers, that is the response; if it throws an AuthError (the same one
 * or another) or does not answer, the formatter answers.
 */
function routeErrorHandler (own: ErrorHandler | undefined, pluginScope: FastifyInstance): ErrorHandler {
  return async function fastifyDrizzleAuthErrors (error, request, reply) {
    if (!(error instanceof AuthError)) {
      if (own !== undefined) return own.call(request.server, error, request, reply)
      throw error
    }
    let denial: AuthError = error
    const handler = applicationHandler(request, own, pluginScope)
    if (handler !== undefined) {
      try {
        const result = await handler.call(request.server, error, request, reply)
        if (reply.sent) return undefined
        if (result !== undefined) return result
      } catch (thrown) {
        if (!(thrown instanceof AuthError)) throw thrown
        denial = thrown
      }
    }
    return sendAuthError(denial, request, reply)
  }
}

/** Marks, in a route's config, that its errors go through the error path. */
const ERROR_PATH = Symbol('fastify-drizzle-auth.errorPath')

/** Installs the error path on every route declared from now on, in this context and its children. */
export function installErrorPath (fastify: FastifyInstance): void {
  fastifyDefaultHandler()
  fastify.addHook('onRoute', (route: RouteOptions) => {
    route.errorHandler = routeErrorHandler(route.errorHandler as ErrorHandler | undefined, fastify)
    route.config = Object.assign({ ...route.config }, { [ERROR_PATH]: true })
  })
}

/**
 * Hands a guard's denial to Fastify, or, on a route declared before the plugin (which the error path does not
 * cover), answers it with the formatter at once, so its body is the same either way.
 */
export function deny (error: AuthError, request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
  if ((request.routeOptions.config as unknown as Record<symbol, unknown>)[ERROR_PATH] === true) return done(error)
  void sendAuthError(error, request, reply)
}
