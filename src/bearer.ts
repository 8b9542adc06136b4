import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { ANONYMOUS_USER, type AnonymousUser } from './anonymous.ts'
import { ServiceUnavailableError } from './errors.ts'
import type { AuthService } from './service/auth-service.ts'
import { MAX_ACCESS_TOKEN_LENGTH, TOKEN_SHAPE } from './service/tokens.ts'
import type { AuthUser } from './service/user.ts'
import { cookieToken } from './transport/cookies.ts'
import { doubleSubmitMatches, isUnsafe, logCsrfRefusal, originRefusal } from './transport/csrf.ts'
import type { ResolvedTransport } from './transport/options.ts'
import type { AuthInfo } from './types.ts'

export type ScopesFor = (user: AuthUser) => readonly string[]
/** How the hook sets `request.user` (see jwt-coexistence.ts). */
export type SetUser = (request: FastifyRequest, user: AuthUser | AnonymousUser) => void

function info (tokenStatus: AuthInfo['tokenStatus'], transport: AuthInfo['transport']): AuthInfo {
  return Object.freeze({ scopes: Object.freeze([]), sessionId: null, tokenStatus, transport, amr: Object.freeze([]) })
}
/** Tokens signed before `amr` was: every session then was made with a password. */
const PASSWORD_AMR: readonly string[] = Object.freeze(['pwd'])
const ABSENT = info('absent', null)
const REJECTED = { bearer: info('rejected', 'bearer'), cookie: info('rejected', 'cookie') }
const UNAVAILABLE = { bearer: info('unavailable', 'bearer'), cookie: info('unavailable', 'cookie') }
const CSRF_REJECTED = info('csrf_rejected', 'cookie')

// RFC 6750 b64token after exactly one space; the scheme is case-insensitive.
const BEARER = new RegExp(`^bearer (${TOKEN_SHAPE})$`, 'i')

/**
 * The bearer value of the request: `undefined` when no Authorization header was sent, `null` when one was sent
 * but is not a single well-formed Bearer credential (another scheme, bad syntax, sent twice, too long).
 */
export function bearerToken (request: FastifyRequest): string | null | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  if (typeof header !== 'string' || header.length > MAX_ACCESS_TOKEN_LENGTH + 7 || sentTwice(request)) return null
  const match = BEARER.exec(header)
  return match === null ? null : match[1]
}

// Node keeps only the first of duplicated Authorization headers; an ambiguous credential is no credential.
function sentTwice (request: FastifyRequest): boolean {
  const raw = request.raw.rawHeaders
  let seen = 0
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 13 && raw[i].toLowerCase() === 'authorization' && ++seen > 1) return true
  }
  return false
}

export interface Credential {
  /** The token, or null when one came but is not well formed. */
  token: string | null
  transport: 'bearer' | 'cookie'
}

/** The access credential the transport allows: a bearer header first (it wins when both came), then the cookie. */
export function credentialOf (request: FastifyRequest, settings: ResolvedTransport): Credential | undefined {
  if (settings.bearer) {
    const token = bearerToken(request)
    if (token !== undefined) return { token, transport: 'bearer' }
  }
  if (settings.cookie) {
    const token = cookieToken(request, settings.names.access)
    if (token !== undefined) return { token, transport: 'cookie' }
  }
  return undefined
}

/**
 * The onRequest hook: sets `request.user` and `request.auth` on every request and never answers.
 * Only a token the service accepted makes a user; any failure, including the store's, leaves the
 * request anonymous (with `tokenStatus` telling the guards why). A cookie-authenticated unsafe request must
 * also come from an allowed origin (and carry the double-submit token when that is on), or it is anonymous
 * with `csrf_rejected`. On a synchronous store the service calls back before `verifyAccessToken` returns, so
 * no promise is made at all. A `scopes` function that throws is a programming error, handed to Fastify (500).
 */
export function createBearerHook (getService: () => AuthService, scopesFor: ScopesFor, setUser: SetUser, settings: ResolvedTransport) {
  // Every request ends in exactly one of these two, so request.user is set once.
  function anonymous (request: FastifyRequest, auth: AuthInfo, done: HookHandlerDoneFunction, err?: Error): void {
    setUser(request, ANONYMOUS_USER)
    request.auth = auth
    done(err)
  }

  // Logged here, once per request; the guard or route that answers 403 adds nothing.
  function csrfRejected (request: FastifyRequest, reason: string, done: HookHandlerDoneFunction): void {
    logCsrfRefusal(request, reason)
    anonymous(request, CSRF_REJECTED, done)
  }

  return function fastifyDrizzleAuthBearer (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const credential = credentialOf(request, settings)
    // A route declared with `config: { authenticate: false }` never looks at the token (checked only when one came).
    if (credential === undefined || request.routeOptions.config.authenticate === false) return anonymous(request, ABSENT, done)
    const { token, transport } = credential
    if (token === null) return anonymous(request, REJECTED[transport], done)
    const checkCsrf = transport === 'cookie' && isUnsafe(request.method)
    if (checkCsrf) {
      const refusal = originRefusal(request, settings)
      if (refusal !== undefined) return csrfRejected(request, refusal, done)
    }
    getService().verifyAccessToken(token, (err, verified) => {
      // The service hands on AuthErrors only; a store failure is 'unavailable' (the token may be fine).
      if (err !== null) return anonymous(request, err instanceof ServiceUnavailableError ? UNAVAILABLE[transport] : REJECTED[transport], done)
      const { user, sessionId, claims } = verified!
      if (checkCsrf && settings.doubleSubmit && !doubleSubmitMatches(request, getService().config.secret, sessionId)) {
        return csrfRejected(request, request.headers['x-csrf-token'] === undefined ? 'no X-CSRF-Token header' : 'X-CSRF-Token does not match the session', done)
      }
      let scopes: readonly string[]
      try {
        scopes = scopesFor(user)
      } catch (scopesFailed) {
        return anonymous(request, REJECTED[transport], done, scopesFailed as Error)
      }
      setUser(request, user)
      request.auth = { scopes, sessionId, tokenStatus: 'valid', transport, amr: claims.amr ?? PASSWORD_AMR }
      done()
    })
  }
}
