/** The provider sign-in options, declared once. */
import { custom, group, option } from '../lib/option-schema.ts'
import { isSecureUrl, type ProviderDefinition } from './providers.ts'

const isObject = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value)

/** An allowed return target: an http(s) origin, or an origin and a path prefix; no query, fragment or credentials. */
export function isRedirectBase (value: unknown): boolean {
  if (typeof value !== 'string' || !URL.canParse(value)) return false
  const url = new URL(value)
  return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '' &&
    url.search === '' && url.hash === '' && !value.includes('#') && !value.includes('?')
}

export const OAUTH_OPTIONS = {
  providers: custom<Readonly<Record<string, ProviderDefinition>>>(isObject, {
    doc: 'sign-in through identity providers, by name: `{ google: google({ clientId, clientSecret }), github: github({...}), corp: oidc({ issuer, clientId, clientSecret }) }` (see [Providers](providers.md))',
    must: 'an object of providers by name, each made by oidc(), google(), microsoft() or github()'
  }),
  oauth: group('provider sign-in settings (with `providers`)', {
    callbackBaseUrl: custom<string>((value) => isSecureUrl(value) && !String(value).includes('?') && !String(value).includes('#'), {
      doc: "the public URL the bundled routes answer at (their prefix included): each provider's redirect URI is `<callbackBaseUrl>/oauth/<name>/callback`; never taken from the Host header. Required with `providers`",
      must: "an https URL (http on a loopback host), e.g. 'https://api.example.com/auth'"
    }),
    allowedRedirects: custom<readonly string[]>((value) => Array.isArray(value) && value.every(isRedirectBase), {
      doc: "where a browser may be sent back after a provider (`redirectTo`): exact origins (`'https://app.example'`) or an origin and a path prefix (`'https://app.example/account/'`); the first is the default. Required with `providers`",
      must: "an array of http(s) URLs without query or fragment, e.g. ['https://app.example']",
      default: []
    }),
    linkByVerifiedEmail: option.boolean(true, "a first provider sign-in whose address belongs to an account links to it, only when the provider says the address is verified and the account's address is verified too; `false`: never (409 `account_exists`)"),
    storeTokens: option.boolean(false, "keep the provider's access and refresh tokens, encrypted (AES-256-GCM), for `getProviderToken()`"),
    timeoutSeconds: option.integerBetween(1, 60, 10, 'how long a request to a provider (discovery, token, userinfo) may take before the sign-in is answered 503 `provider_unavailable`'),
    rateLimit: group('provider sign-in starts and callbacks per client address', {
      maxPerIp: option.positiveInteger(30, 'starts and callbacks accepted per client IP (IPv6: per /64) within the window'),
      windowSeconds: option.positiveInteger(900, 'window length, seconds')
    }, { allowFalse: true })
  })
} as const
