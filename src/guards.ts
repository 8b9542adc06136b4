import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import {
  type AuthError, ConfigurationError, CsrfRejectedError, InsufficientScopeError, LoginRequiredError, ServiceUnavailableError
} from './errors.ts'
import { deny } from './error-handler.ts'
import { markGuard } from './openapi.ts'
import type { AuthUser } from './service/user.ts'

export interface LoginRequiredOptions {
  /** Status for unauthenticated JSON responses (default 401). */
  statusCode?: number
  /** When set, unauthenticated requests get a 302 to this URL instead of JSON. */
  redirectUrl?: string
}

/** A guard is a Fastify hook (onRequest or preHandler): a denial is handed to Fastify as an AuthError. */
export type AuthGuard = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

const NOT_REGISTERED = 'fastify-drizzle-auth: a guard (loginRequired, requires, requireAuth) ran on a request the plugin never ' +
  'saw: register the plugin in this route\'s context or a parent of it (not in a sibling), before any hook that uses a guard'

/**
 * Why an unauthenticated request is refused: a 503 when the store failed (the token may be fine, and a 401
 * would make clients throw it away), otherwise the 401 with its challenge.
 */
function denial (request: FastifyRequest, statusCode = 401): AuthError {
  // No auth at all: the plugin's hook never saw this request, and a 401 would blame every client forever.
  if (request.auth === null || request.auth === undefined) return new ConfigurationError(NOT_REGISTERED)
  const status = request.auth.tokenStatus
  if (status === 'unavailable') return new ServiceUnavailableError()
  if (status === 'csrf_rejected') return new CsrfRejectedError()
  return new LoginRequiredError(status === 'rejected', statusCode)
}

function isAuthenticated (request: FastifyRequest): boolean {
  return request.user?.isAuthenticated === true
}

function resolveGuardOptions (options: unknown): Required<Pick<LoginRequiredOptions, 'statusCode'>> & LoginRequiredOptions {
  if (options === undefined) return { statusCode: 401 }
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('loginRequired: options must be an object like { statusCode: 403 } or { redirectUrl: "/login" }')
  }
  const { statusCode = 401, redirectUrl } = options as LoginRequiredOptions
  if (!Number.isInteger(statusCode) || statusCode < 400 || statusCode > 599) {
    throw new ConfigurationError('loginRequired: `statusCode` must be an integer HTTP error status (400-599)')
  }
  if (redirectUrl !== undefined && (typeof redirectUrl !== 'string' || redirectUrl === '')) {
    throw new ConfigurationError('loginRequired: `redirectUrl` must be a non-empty string')
  }
  return { statusCode, redirectUrl }
}

/**
 * The redirect target with the page asked for in `next`, so the login page can send the user back. Only a
 * path of this site is echoed (one `/`, not `//` or `/\`, which browsers read as another host): never an
 * open redirect.
 */
function withNext (redirectUrl: string, path: string): string {
  if (!/^\/(?![/\\])/.test(path)) return redirectUrl
  return `${redirectUrl}${redirectUrl.includes('?') ? '&' : '?'}next=${encodeURIComponent(path)}`
}

function guardWith (options: LoginRequiredOptions | undefined): AuthGuard {
  const { statusCode, redirectUrl } = resolveGuardOptions(options)
  return markGuard(function loginRequiredGuard (request, reply, done) {
    if (isAuthenticated(request)) return done()
    if (redirectUrl !== undefined && request.auth !== null && request.auth !== undefined && request.auth.tokenStatus !== 'unavailable') {
      // A page, not an API: the redirect is the answer, and the handler must not run.
      void reply.redirect(withNext(redirectUrl, request.url), 302)
      return
    }
    deny(denial(request, statusCode), request, reply, done)
  })
}

const bareGuard = guardWith(undefined)

/**
 * Rejects unauthenticated requests before the handler runs. Used bare, it is the hook itself
 * (`preHandler: loginRequired`); called with options, it makes one (`loginRequired({ statusCode: 403 })`,
 * `loginRequired({ redirectUrl: '/login' })`). Fastify always calls a hook with three arguments, a factory
 * call has at most one: that is the whole distinction.
 */
export function loginRequired (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
export function loginRequired (options?: LoginRequiredOptions): AuthGuard
export function loginRequired (
  requestOrOptions?: FastifyRequest | LoginRequiredOptions,
  reply?: FastifyReply,
  done?: HookHandlerDoneFunction
): AuthGuard | undefined {
  if (done === undefined) return guardWith(requestOrOptions as LoginRequiredOptions | undefined)
  bareGuard(requestOrOptions as FastifyRequest, reply!, done)
  return undefined
}

markGuard(loginRequired)

/** The authenticated user, or the guard's LoginRequiredError (401); ServiceUnavailableError (503) when the store failed. */
export function requireAuth (request: FastifyRequest): AuthUser {
  const user = request.user
  if (user?.isAuthenticated === true) return user
  throw denial(request)
}

/**
 * A hook that lets through only authenticated requests holding every listed scope: unauthenticated -> as
 * loginRequired, missing a scope -> InsufficientScopeError (403 `{"detail":"Insufficient scope"}`).
 */
export function requires (...scopes: string[]): AuthGuard {
  if (scopes.length === 0 || !scopes.every((scope) => typeof scope === 'string' && scope !== '')) {
    throw new ConfigurationError("requires: name at least one scope, e.g. requires('admin')")
  }
  return markGuard(function requiresGuard (request, reply, done) {
    if (!isAuthenticated(request)) return deny(denial(request), request, reply, done)
    const granted = request.auth.scopes
    if (scopes.every((scope) => granted.includes(scope))) return done()
    deny(new InsufficientScopeError(scopes), request, reply, done)
  })
}
