import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { ResolvedTransport } from './options.ts'

type CsrfSettings = Pick<ResolvedTransport, 'trustedOrigins' | 'allowSameSite'>

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/**
 * The methods a cookie-authenticated request must prove its origin for: POST, PUT, PATCH, DELETE, and any
 * other method an application adds (failing closed), all but the safe ones.
 */
export function isUnsafe (method: string): boolean {
  return !SAFE_METHODS.has(method)
}

/**
 * Whether a cookie-authenticated unsafe request comes from where it may: `Sec-Fetch-Site: same-origin` (or
 * `same-site` when allowed), else an `Origin` (without one, the `Referer`'s origin) that is trusted: listed in
 * `csrf.trustedOrigins`, or the request's own origin when Fastify's `trustProxy` is set (only then are its
 * scheme and host known for sure). Anything else (no header at all included) is refused.
 */
export function originAllowed (request: FastifyRequest, settings: CsrfSettings): boolean {
  const site = request.headers['sec-fetch-site']
  if (site === 'same-origin' || (site === 'same-site' && settings.allowSameSite)) return true
  return trustedOrigin(request, settings)
}

/**
 * Login CSRF (logging a victim in as the attacker): a login the browser says is cross-site (or same-site,
 * unless allowed), or one with an untrusted `Origin`, is refused; a request with neither header is not a
 * browser's cross-site request, and passes.
 */
export function loginAllowed (request: FastifyRequest, settings: CsrfSettings): boolean {
  const site = request.headers['sec-fetch-site']
  if (site === 'cross-site' || (site === 'same-site' && !settings.allowSameSite)) return trustedOrigin(request, settings)
  if (site !== undefined || request.headers.origin === undefined) return true
  return trustedOrigin(request, settings)
}

function trustedOrigin (request: FastifyRequest, settings: CsrfSettings): boolean {
  const origin = originOf(request)
  if (origin === undefined) return false
  if (settings.trustedOrigins.has(origin)) return true
  // `ips` exists only when Fastify's trustProxy is configured.
  return request.ips !== undefined && origin === `${request.protocol}://${request.host}`
}

function originOf (request: FastifyRequest): string | undefined {
  const origin = request.headers.origin
  if (typeof origin === 'string') return origin === 'null' ? undefined : origin
  const referer = request.headers.referer
  if (typeof referer !== 'string') return undefined
  try {
    return new URL(referer).origin
  } catch {
    return undefined
  }
}

/** The double-submit token of a session: base64url(HMAC-SHA256(secret, 'csrf:' + sessionId)). */
export function csrfToken (secret: Buffer, sessionId: string): string {
  return createHmac('sha256', secret).update(`csrf:${sessionId}`).digest('base64url')
}

/** Whether `X-CSRF-Token` is the session's double-submit token (compared in constant time). */
export function doubleSubmitMatches (request: FastifyRequest, secret: Buffer, sessionId: string): boolean {
  const given = request.headers['x-csrf-token']
  if (typeof given !== 'string') return false
  const expected = Buffer.from(csrfToken(secret, sessionId))
  const actual = Buffer.from(given)
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}
