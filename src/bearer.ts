import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { ANONYMOUS_USER, type AnonymousUser } from './anonymous.ts'
import { ServiceUnavailableError } from './errors.ts'
import type { AuthService } from './service/auth-service.ts'
import { MAX_ACCESS_TOKEN_LENGTH } from './service/tokens.ts'
import type { AuthUser } from './service/user.ts'
import type { AuthInfo } from './types.ts'

export type ScopesFor = (user: AuthUser) => readonly string[]
/** How the hook sets `request.user` (see jwt-coexistence.ts). */
export type SetUser = (request: FastifyRequest, user: AuthUser | AnonymousUser) => void

const ABSENT: AuthInfo = Object.freeze({ scopes: Object.freeze([]), sessionId: null, tokenStatus: 'absent' })
const REJECTED: AuthInfo = Object.freeze({ scopes: Object.freeze([]), sessionId: null, tokenStatus: 'rejected' })
const UNAVAILABLE: AuthInfo = Object.freeze({ scopes: Object.freeze([]), sessionId: null, tokenStatus: 'unavailable' })

// RFC 6750 b64token after exactly one space; the scheme is case-insensitive.
const BEARER = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i

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

/**
 * The onRequest hook: sets `request.user` and `request.auth` on every request and never answers.
 * Only a token the service accepted makes a user; any failure, including the store's, leaves the
 * request anonymous (with `tokenStatus` telling the guards why). On a synchronous store the service calls
 * back before `verifyAccessToken` returns, so no promise is made at all. A `scopes` function that throws is
 * a programming error, handed to Fastify as one (500).
 */
export function createBearerHook (getService: () => AuthService, scopesFor: ScopesFor, setUser: SetUser) {
  // The service hands on AuthErrors only; a store failure is 'unavailable' (the token may be fine), any other refusal 'rejected'.
  function refuse (request: FastifyRequest, err: Error): void {
    request.auth = err instanceof ServiceUnavailableError ? UNAVAILABLE : REJECTED
  }

  return function fastifyDrizzleAuthBearer (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    setUser(request, ANONYMOUS_USER)
    const token = bearerToken(request)
    // A route declared with `config: { authenticate: false }` never looks at the token (checked only when one came).
    if (token === undefined || request.routeOptions.config.authenticate === false) {
      request.auth = ABSENT
      return done()
    }
    if (token === null) {
      request.auth = REJECTED
      return done()
    }
    getService().verifyAccessToken(token, (err, verified) => {
      if (err !== null) {
        refuse(request, err)
        return done()
      }
      const { user, sessionId } = verified!
      let scopes: readonly string[]
      try {
        scopes = scopesFor(user)
      } catch (scopesFailed) {
        request.auth = REJECTED
        return done(scopesFailed as Error)
      }
      setUser(request, user)
      request.auth = { scopes, sessionId, tokenStatus: 'valid' }
      done()
    })
  }
}
