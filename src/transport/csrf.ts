import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { CsrfRejectedError } from '../errors.ts'
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
 * Why a cookie-authenticated unsafe request may not proceed, or `undefined` when it comes from where it may:
 * `Sec-Fetch-Site: same-origin` (or `same-site` when allowed), else an `Origin` (without one, the `Referer`'s
 * origin) that is trusted: listed in `csrf.trustedOrigins`, or the request's own origin when Fastify's
 * `trustProxy` is set (only then are its scheme and host known for sure). Anything else (no header at all
 * included) is refused.
 */
export function originRefusal (request: FastifyRequest, settings: CsrfSettings): string | undefined {
  const site = request.headers['sec-fetch-site']
  if (site === 'same-origin' || (site === 'same-site' && settings.allowSameSite)) return undefined
  return untrustedOrigin(request, settings)
}

/**
 * Login CSRF (logging a victim in as the attacker): why a sign-in is refused, or `undefined`. A request the
 * browser says is cross-site (or same-site, unless allowed), or one with an untrusted `Origin`, is refused; a
 * request with neither header is not a browser's cross-site request, and passes.
 */
export function loginRefusal (request: FastifyRequest, settings: CsrfSettings): string | undefined {
  const site = request.headers['sec-fetch-site']
  if (site === 'cross-site' || (site === 'same-site' && !settings.allowSameSite)) return untrustedOrigin(request, settings)
  if (site !== undefined || request.headers.origin === undefined) return undefined
  return untrustedOrigin(request, settings)
}

/** Whether a browser sent the request (any Fetch Metadata header), as opposed to curl, a server or a native app. */
export function sentByBrowser (request: FastifyRequest): boolean {
  const headers = request.headers
  return headers['sec-fetch-site'] !== undefined || headers['sec-fetch-mode'] !== undefined ||
    headers['sec-fetch-dest'] !== undefined || headers['sec-fetch-user'] !== undefined
}

/**
 * Logs a refusal once, at info, so a developer whose page's origin is not trusted sees why (the reason names
 * headers and origins only, never a cookie or token), and gives the error to answer with.
 */
export function csrfRefused (request: FastifyRequest, reason: string): CsrfRejectedError {
  logCsrfRefusal(request, reason)
  return new CsrfRejectedError()
}

export function logCsrfRefusal (request: FastifyRequest, reason: string): void {
  request.log.info({ reason }, `fastify-drizzle-auth: cross-site request refused: ${reason}`)
}

function untrustedOrigin (request: FastifyRequest, settings: CsrfSettings): string | undefined {
  const origin = originOf(request)
  if (origin === undefined) {
    const site = request.headers['sec-fetch-site']
    return site === undefined
      ? 'no Sec-Fetch-Site, Origin or Referer header'
      : `Sec-Fetch-Site is ${JSON.stringify(String(site).slice(0, 20))} and no Origin or Referer header names a trusted origin`
  }
  if (settings.trustedOrigins.has(origin)) return undefined
  // `ips` exists only when Fastify's trustProxy is configured.
  if (request.ips !== undefined && origin === `${request.protocol}://${request.host}`) return undefined
  return `origin ${JSON.stringify(origin.slice(0, 200))} is not in csrf.trustedOrigins`
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
