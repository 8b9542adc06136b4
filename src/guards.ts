import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AuthenticationError, ConfigurationError, ServiceUnavailableError } from './errors.ts'
import type { AuthUser } from './service/user.ts'

export interface LoginRequiredOptions {
  /** Status for unauthenticated JSON responses (default 401). */
  statusCode?: number
  /** When set, unauthenticated requests get a 302 to this URL instead of JSON. */
  redirectUrl?: string
}

/**
 * A preHandler. Fastify calls it with `done` and then no promise is made (the check is synchronous); called
 * by hand without `done` (from your own hook), it returns a promise, resolved with the reply once it answered.
 */
export interface AuthGuard {
  (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
  (request: FastifyRequest, reply: FastifyReply): Promise<unknown>
}

type Check = (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined

type GuardFunction = (request: FastifyRequest, reply: FastifyReply, done?: HookHandlerDoneFunction) => Promise<unknown> | undefined

function toGuard (check: Check): AuthGuard & GuardFunction {
  return function authGuard (request: FastifyRequest, reply: FastifyReply, done?: HookHandlerDoneFunction): Promise<unknown> | undefined {
    const answered = check(request, reply)
    if (typeof done !== 'function') return Promise.resolve(answered)
    // A hook that answered does not call done: the reply is on its way and the handler must not run.
    if (answered === undefined) done()
    return undefined
  } as AuthGuard & GuardFunction
}

const AUTH_REQUIRED = '{"detail":"Authentication required"}'
const INSUFFICIENT_SCOPE = '{"detail":"Insufficient scope"}'
const UNAVAILABLE = '{"detail":"Authentication service unavailable","code":"service_unavailable"}'

function isAuthenticated (request: FastifyRequest): boolean {
  return request.user?.isAuthenticated === true
}

/** The guards' answer to an unauthenticated request. */
function deny (request: FastifyRequest, reply: FastifyReply, statusCode: number, redirectUrl?: string): FastifyReply {
  const status = request.auth?.tokenStatus
  if (status === 'unavailable') {
    // The token may be fine: a 401 here would make clients throw it away.
    return reply.code(503).header('retry-after', '5').type('application/json; charset=utf-8').send(UNAVAILABLE)
  }
  if (redirectUrl !== undefined) return reply.redirect(redirectUrl, 302)
  return reply.code(statusCode)
    .header('www-authenticate', status === 'rejected' ? 'Bearer error="invalid_token"' : 'Bearer')
    .type('application/json; charset=utf-8')
    .send(AUTH_REQUIRED)
}

function resolveGuardOptions (options: LoginRequiredOptions | undefined): Required<Pick<LoginRequiredOptions, 'statusCode'>> & LoginRequiredOptions {
  if (options === undefined) return { statusCode: 401 }
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('loginRequired: options must be an object like { statusCode: 403 } or { redirectUrl: "/login" }')
  }
  const { statusCode = 401, redirectUrl } = options
  if (!Number.isInteger(statusCode) || statusCode < 400 || statusCode > 599) {
    throw new ConfigurationError('loginRequired: `statusCode` must be an integer HTTP error status (400-599)')
  }
  if (redirectUrl !== undefined && (typeof redirectUrl !== 'string' || redirectUrl === '')) {
    throw new ConfigurationError('loginRequired: `redirectUrl` must be a non-empty string')
  }
  return { statusCode, redirectUrl }
}

function isRequest (value: unknown): value is FastifyRequest {
  return value !== null && typeof value === 'object' && 'raw' in value && 'headers' in value
}

/**
 * Rejects unauthenticated requests before the handler runs. Use it bare (`preHandler: loginRequired`),
 * called (`loginRequired()`), or with options (`loginRequired({ statusCode: 403 })`,
 * `loginRequired({ redirectUrl: '/login' })`).
 */
export function loginRequired (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
export function loginRequired (request: FastifyRequest, reply: FastifyReply): Promise<unknown>
export function loginRequired (options?: LoginRequiredOptions): AuthGuard
export function loginRequired (
  requestOrOptions?: FastifyRequest | LoginRequiredOptions,
  reply?: FastifyReply,
  done?: HookHandlerDoneFunction
): AuthGuard | Promise<unknown> | undefined {
  if (isRequest(requestOrOptions) && reply !== undefined) return (bareGuard as GuardFunction)(requestOrOptions, reply, done)
  const { statusCode, redirectUrl } = resolveGuardOptions(requestOrOptions as LoginRequiredOptions | undefined)
  return toGuard((request, reply) => isAuthenticated(request) ? undefined : deny(request, reply, statusCode, redirectUrl))
}

// Used bare (`preHandler: loginRequired`), it is the hook itself.
const bareGuard = toGuard((request, reply) => isAuthenticated(request) ? undefined : deny(request, reply, 401))

/** The authenticated user, or AuthenticationError (401); ServiceUnavailableError (503) when the store failed. */
export function requireAuth (request: FastifyRequest): AuthUser {
  const user = request.user
  if (user?.isAuthenticated === true) return user
  if (request.auth?.tokenStatus === 'unavailable') throw new ServiceUnavailableError()
  throw new AuthenticationError()
}

/**
 * A preHandler that lets through only authenticated requests holding every listed scope:
 * unauthenticated -> 401 (as loginRequired), missing a scope -> 403 `{"detail":"Insufficient scope"}`.
 */
export function requires (...scopes: string[]): AuthGuard {
  if (scopes.length === 0 || !scopes.every((scope) => typeof scope === 'string' && scope !== '')) {
    throw new ConfigurationError("requires: name at least one scope, e.g. requires('admin')")
  }
  return toGuard((request, reply) => {
    if (!isAuthenticated(request)) return deny(request, reply, 401)
    const granted = request.auth.scopes
    if (scopes.every((scope) => granted.includes(scope))) return undefined
    return reply.code(403)
      .header('www-authenticate', 'Bearer error="insufficient_scope"')
      .type('application/json; charset=utf-8')
      .send(INSUFFICIENT_SCOPE)
  })
}
