import type { CookieSerializeOptions } from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { MAX_ACCESS_TOKEN_LENGTH, TOKEN_SHAPE } from '../service/tokens.ts'
import type { ResolvedTransport } from './options.ts'

// The same shape as a bearer value; refresh tokens are base64url, so they fit too.
const TOKEN = new RegExp(`^${TOKEN_SHAPE}$`)
// Browsers keep cookies for at most 400 days (RFC 6265bis).
const MAX_COOKIE_AGE = 400 * 24 * 3600

/**
 * The value of cookie `name`: `undefined` when the request has none, `null` when it is not one well-formed
 * token (sent twice, which is how a sibling subdomain tosses in a cookie of its own, too long, bad shape). Read
 * from the raw header, since a parsed cookie object keeps only one of two same-named values.
 */
export function cookieToken (request: FastifyRequest, name: string): string | null | undefined {
  const header = request.headers.cookie
  if (header === undefined) return undefined
  let found: string | undefined
  for (const pair of header.split(';')) {
    const entry = pair.trimStart()
    if (!entry.startsWith(`${name}=`)) continue
    if (found !== undefined) return null
    found = entry.slice(name.length + 1).trimEnd()
  }
  if (found === undefined) return undefined
  return found.length <= MAX_ACCESS_TOKEN_LENGTH && TOKEN.test(found) ? found : null
}

export interface IssuedCookies {
  accessToken: string
  /** Access-token lifetime, seconds. */
  expiresIn: number
  refreshToken: string
  /** When the session (and so its refresh token) ends. */
  sessionExpiresAt: Date
  /** The double-submit token, when that protection is on. */
  csrfToken: string | undefined
}

/** Sets the access, refresh (and double-submit) cookies; the refresh cookie goes only to `refreshPath`. */
export function setAuthCookies (reply: FastifyReply, settings: ResolvedTransport, refreshPath: string, issued: IssuedCookies): void {
  const sessionAge = Math.max(0, Math.min(MAX_COOKIE_AGE, Math.floor((issued.sessionExpiresAt.getTime() - Date.now()) / 1000)))
  const base: CookieSerializeOptions = { secure: settings.secure, path: '/' }
  reply.setCookie(settings.names.access, issued.accessToken,
    { ...base, httpOnly: true, sameSite: settings.sameSite.access, maxAge: Math.min(issued.expiresIn, sessionAge) })
  reply.setCookie(settings.names.refresh, issued.refreshToken,
    { ...base, httpOnly: true, sameSite: settings.sameSite.refresh, path: refreshPath, maxAge: sessionAge })
  if (issued.csrfToken !== undefined) {
    // Readable by the page's script on purpose: it sends it back as X-CSRF-Token.
    reply.setCookie(settings.names.csrf, issued.csrfToken, { ...base, httpOnly: false, sameSite: 'strict', maxAge: sessionAge })
  }
}

/** Clears every cookie the plugin sets, with the attributes it set them with. */
export function clearAuthCookies (reply: FastifyReply, settings: ResolvedTransport, refreshPath: string): void {
  const base: CookieSerializeOptions = { secure: settings.secure, path: '/' }
  reply.clearCookie(settings.names.access, { ...base, httpOnly: true, sameSite: settings.sameSite.access })
  reply.clearCookie(settings.names.refresh, { ...base, httpOnly: true, sameSite: settings.sameSite.refresh, path: refreshPath })
  if (settings.doubleSubmit) reply.clearCookie(settings.names.csrf, { ...base, httpOnly: false, sameSite: 'strict' })
}
