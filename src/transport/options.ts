import { ConfigurationError } from '../errors.ts'

export type TokenTransport = 'bearer' | 'cookie' | 'both'
export type SameSite = 'lax' | 'strict' | 'none'

export interface CookieOptions {
  /** Cookie names (defaults `__Host-fda_access`, `__Secure-fda_refresh`, `__Host-fda_csrf`; unprefixed with `secureCookies: false`). */
  names?: { access?: string, refresh?: string, csrf?: string }
  /** SameSite of each cookie (defaults: access 'lax', refresh 'strict'). */
  sameSite?: { access?: SameSite, refresh?: SameSite }
  /**
   * Where the refresh cookie is sent. Default: only to the refresh route, which rules out a `__Host-` name, so
   * a sibling subdomain can plant a refresh cookie of its own (two refresh cookies are refused). `'/'`: sent to
   * every path, under a `__Host-` name (default `__Host-fda_refresh`) that no other host can set.
   */
  refreshPath?: '/'
}

export interface CsrfOptions {
  /** Origins (`https://app.example`) whose cookie-authenticated unsafe requests are accepted (default none). */
  trustedOrigins?: readonly string[]
  /** Accept `Sec-Fetch-Site: same-site` as well as `same-origin` (default false). */
  allowSameSite?: boolean
  /** Also require `X-CSRF-Token`: the HMAC of the session, given at login and refresh (default false). */
  doubleSubmit?: boolean
}

export interface TransportOptions {
  /** How tokens travel: `Authorization: Bearer` (default), HttpOnly cookies, or either. */
  tokenTransport?: TokenTransport
  cookies?: CookieOptions
  /** `false`: cookies without `Secure` and without the `__Host-`/`__Secure-` prefixes, for plain-HTTP development only. */
  secureCookies?: boolean
  csrf?: CsrfOptions
}

export interface ResolvedTransport {
  transport: TokenTransport
  bearer: boolean
  cookie: boolean
  secure: boolean
  names: { access: string, refresh: string, csrf: string }
  /** The refresh cookie goes to every path (`cookies.refreshPath: '/'`), not only to the refresh route. */
  refreshOnRoot: boolean
  sameSite: { access: SameSite, refresh: SameSite }
  trustedOrigins: ReadonlySet<string>
  allowSameSite: boolean
  doubleSubmit: boolean
}

const TRANSPORTS: readonly TokenTransport[] = ['bearer', 'cookie', 'both']
const SAME_SITE: readonly SameSite[] = ['lax', 'strict', 'none']
// RFC 6265 cookie-name token characters.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Validates the transport options once, at registration; every failure says what to set. */
export function resolveTransport (options: TransportOptions): ResolvedTransport {
  const transport = options.tokenTransport ?? 'bearer'
  if (!TRANSPORTS.includes(transport)) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`tokenTransport\` must be one of ${TRANSPORTS.map((t) => `'${t}'`).join(', ')}`)
  }
  const secure = options.secureCookies ?? true
  if (typeof secure !== 'boolean') throw new ConfigurationError('fastify-drizzle-auth: `secureCookies` must be true or false')
  const cookies = objectOption(options.cookies, 'cookies')
  const names = objectOption(cookies.names, 'cookies.names')
  const sameSite = objectOption(cookies.sameSite, 'cookies.sameSite')
  if (cookies.refreshPath !== undefined && cookies.refreshPath !== '/') {
    throw new ConfigurationError("fastify-drizzle-auth: `cookies.refreshPath` must be '/' (the refresh cookie on every path, under a __Host- name) or left out (only the refresh route)")
  }
  const refreshOnRoot = cookies.refreshPath === '/'
  const resolved: ResolvedTransport = {
    transport,
    bearer: transport !== 'cookie',
    cookie: transport !== 'bearer',
    secure,
    names: {
      access: cookieName(names.access, secure ? '__Host-fda_access' : 'fda_access', 'access', secure),
      refresh: cookieName(names.refresh, !secure ? 'fda_refresh' : refreshOnRoot ? '__Host-fda_refresh' : '__Secure-fda_refresh', 'refresh', secure),
      csrf: cookieName(names.csrf, secure ? '__Host-fda_csrf' : 'fda_csrf', 'csrf', secure)
    },
    refreshOnRoot,
    sameSite: {
      access: sameSiteOption(sameSite.access, 'lax', 'access', secure),
      refresh: sameSiteOption(sameSite.refresh, 'strict', 'refresh', secure)
    },
    ...resolveCsrf(objectOption(options.csrf, 'csrf'))
  }
  if (!refreshOnRoot && resolved.names.refresh.startsWith('__Host-')) {
    throw new ConfigurationError("fastify-drizzle-auth: `cookies.names.refresh` cannot start with __Host-: the refresh cookie is scoped to the refresh route's path (set `cookies.refreshPath: '/'` for a __Host- refresh cookie)")
  }
  return resolved
}

function objectOption<T extends object> (value: T | undefined, name: string): Partial<T> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`${name}\` must be an object`)
  }
  return value
}

function cookieName (value: unknown, fallback: string, which: string, secure: boolean): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !COOKIE_NAME.test(value)) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`cookies.names.${which}\` must be a cookie name (letters, digits, -_.)`)
  }
  if (!secure && /^__(Host|Secure)-/.test(value)) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`cookies.names.${which}\` has a __Host-/__Secure- prefix, which browsers refuse without Secure: drop it or keep secureCookies`)
  }
  return value
}

function sameSiteOption (value: unknown, fallback: SameSite, which: string, secure: boolean): SameSite {
  if (value === undefined) return fallback
  if (!SAME_SITE.includes(value as SameSite)) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`cookies.sameSite.${which}\` must be 'lax', 'strict' or 'none'`)
  }
  if (value === 'none' && !secure) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`cookies.sameSite.${which}\` 'none' needs Secure cookies: keep secureCookies`)
  }
  return value as SameSite
}

function resolveCsrf (csrf: Partial<CsrfOptions>): Pick<ResolvedTransport, 'trustedOrigins' | 'allowSameSite' | 'doubleSubmit'> {
  const { trustedOrigins = [], allowSameSite = false, doubleSubmit = false } = csrf
  if (!Array.isArray(trustedOrigins)) {
    throw new ConfigurationError("fastify-drizzle-auth: `csrf.trustedOrigins` must be an array of origins, e.g. ['https://app.example']")
  }
  const origins = trustedOrigins.map((value: unknown) => {
    const origin = originOf(value)
    if (origin === undefined) {
      throw new ConfigurationError(`fastify-drizzle-auth: \`csrf.trustedOrigins\` has ${JSON.stringify(value)}, which is not an origin: write scheme://host[:port] with no path, e.g. 'https://app.example'`)
    }
    return origin
  })
  if (typeof allowSameSite !== 'boolean') throw new ConfigurationError('fastify-drizzle-auth: `csrf.allowSameSite` must be true or false')
  if (typeof doubleSubmit !== 'boolean') throw new ConfigurationError('fastify-drizzle-auth: `csrf.doubleSubmit` must be true or false')
  return { trustedOrigins: new Set(origins), allowSameSite, doubleSubmit }
}

/**
 * `scheme://host[:port]` exactly as a browser sends it in `Origin`; a trailing slash (as an address bar shows
 * it) names the same origin and is dropped.
 */
function originOf (value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  try {
    const { origin } = new URL(value)
    return origin !== 'null' && (value === origin || value === `${origin}/`) ? origin : undefined
  } catch {
    return undefined
  }
}
