import { custom, group, option, type OptionsInput, type OptionsResolved } from '../lib/option-schema.ts'
import { ConfigurationError } from '../errors.ts'

export type TokenTransport = 'bearer' | 'cookie' | 'both'
export type SameSite = 'lax' | 'strict' | 'none'

const SAME_SITE = ['lax', 'strict', 'none'] as const
// RFC 6265 cookie-name token characters.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const cookieName = (doc: string) => custom<string>((value) => typeof value === 'string' && COOKIE_NAME.test(value), {
  doc, must: 'a cookie name (letters, digits, -_.)', defaultText: 'see the doc'
})

/** How tokens travel, declared once. */
export const TRANSPORT_OPTIONS = {
  tokenTransport: option.oneOf(['bearer', 'cookie', 'both'], 'bearer', 'how tokens travel: `Authorization: Bearer`, HttpOnly cookies, or either (see [Browser apps](browser-apps.md))'),
  cookies: group('the cookies of `tokenTransport` `cookie` or `both`', {
    names: group('cookie names', {
      access: cookieName('default `__Host-fda_access` (`fda_access` with `secureCookies: false`)'),
      refresh: cookieName('default `__Secure-fda_refresh` (`__Host-fda_refresh` with `refreshPath: \'/\'`, `fda_refresh` with `secureCookies: false`)'),
      csrf: cookieName('default `__Host-fda_csrf` (`fda_csrf` with `secureCookies: false`)')
    }),
    sameSite: group('SameSite of each cookie', {
      access: option.oneOf(SAME_SITE, 'lax', 'the access cookie\'s; `\'none\'` needs Secure cookies'),
      refresh: option.oneOf(SAME_SITE, 'strict', 'the refresh cookie\'s; `\'none\'` needs Secure cookies')
    }),
    refreshPath: custom<'/'>((value) => value === '/', {
      doc: "`'/'`: the refresh cookie goes to every path under a `__Host-` name; unset: only to the refresh route",
      must: "'/' (the refresh cookie on every path, under a __Host- name) or left out (only the refresh route)",
      defaultText: 'the refresh route'
    })
  }),
  secureCookies: option.boolean(true, '`false`: cookies without `Secure` and without the `__Host-`/`__Secure-` prefixes, for plain-HTTP development only'),
  csrf: group('what a cookie-authenticated unsafe request must show', {
    trustedOrigins: custom<readonly string[]>(Array.isArray, {
      doc: 'origins (`https://app.example`) whose cookie-authenticated unsafe requests are accepted',
      must: "an array of origins, e.g. ['https://app.example']",
      default: []
    }),
    allowSameSite: option.boolean(false, 'accept `Sec-Fetch-Site: same-site` as well as `same-origin`'),
    doubleSubmit: option.boolean(false, 'also require `X-CSRF-Token`: the HMAC of the session, given at login and refresh')
  })
} as const

export type TransportOptions = OptionsInput<typeof TRANSPORT_OPTIONS>
export type CookieOptions = NonNullable<TransportOptions['cookies']>
export type CsrfOptions = NonNullable<TransportOptions['csrf']>

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

/** Works out the transport from its checked options: names and SameSite by `secureCookies`, and their conflicts. */
export function resolveTransport (options: OptionsResolved<typeof TRANSPORT_OPTIONS>): ResolvedTransport {
  const { tokenTransport: transport, secureCookies: secure, cookies, csrf } = options
  const { names, sameSite } = cookies
  const refreshOnRoot = cookies.refreshPath === '/'
  const resolved: ResolvedTransport = {
    transport,
    bearer: transport !== 'cookie',
    cookie: transport !== 'bearer',
    secure,
    names: {
      access: prefixed(names.access, secure ? '__Host-fda_access' : 'fda_access', 'access', secure),
      refresh: prefixed(names.refresh, !secure ? 'fda_refresh' : refreshOnRoot ? '__Host-fda_refresh' : '__Secure-fda_refresh', 'refresh', secure),
      csrf: prefixed(names.csrf, secure ? '__Host-fda_csrf' : 'fda_csrf', 'csrf', secure)
    },
    refreshOnRoot,
    sameSite: { access: sameSiteOption(sameSite.access, 'access', secure), refresh: sameSiteOption(sameSite.refresh, 'refresh', secure) },
    trustedOrigins: new Set(csrf.trustedOrigins.map(trustedOrigin)),
    allowSameSite: csrf.allowSameSite,
    doubleSubmit: csrf.doubleSubmit
  }
  if (!refreshOnRoot && resolved.names.refresh.startsWith('__Host-')) {
    throw new ConfigurationError("fastify-drizzle-auth: `cookies.names.refresh` cannot start with __Host-: the refresh cookie is scoped to the refresh route's path (set `cookies.refreshPath: '/'` for a __Host- refresh cookie)")
  }
  return resolved
}

function prefixed (value: string | undefined, fallback: string, which: string, secure: boolean): string {
  if (value === undefined) return fallback
  if (!secure && /^__(Host|Secure)-/.test(value)) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`cookies.names.${which}\` has a __Host-/__Secure- prefix, which browsers refuse without Secure: drop it or keep secureCookies`)
  }
  return value
}

function sameSiteOption (value: SameSite, which: string, secure: boolean): SameSite {
  if (value === 'none' && !secure) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`cookies.sameSite.${which}\` 'none' needs Secure cookies: keep secureCookies`)
  }
  return value
}

function trustedOrigin (value: unknown): string {
  const origin = originOf(value)
  if (origin === undefined) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`csrf.trustedOrigins\` has ${JSON.stringify(value)}, which is not an origin: write scheme://host[:port] with no path, e.g. 'https://app.example'`)
  }
  return origin
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
