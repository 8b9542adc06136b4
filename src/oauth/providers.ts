/**
 * Identity providers as options: `oidc()` is any OpenID Connect issuer found by discovery; `google()` and
 * `microsoft()` are OIDC presets; `github()` is OAuth 2.0 with GitHub's user API. A preset only fills in
 * endpoints and defaults: every field can be given instead.
 */
import { ConfigurationError } from '../errors.ts'

/** What the service needs of a provider; made by the functions below (or written by hand to the same shape). */
export interface ProviderDefinition {
  /** `oidc`: discovery, ID token, userinfo. `github`: OAuth 2.0 and GitHub's `/user` + `/user/emails`. */
  readonly kind: 'oidc' | 'github'
  /** Shown to people ("Continue with <label>"). */
  readonly label: string
  /** OIDC: the issuer, discovered at `<issuer>/.well-known/openid-configuration`. GitHub: its web origin. */
  readonly issuer: string
  readonly clientId: string
  readonly clientSecret: string
  readonly scopes: readonly string[]
  /** GitHub (or a GitHub Enterprise server): where the flow and the API are. */
  readonly endpoints?: GitHubEndpoints
  /** Extra authorization-request parameters (e.g. `{ prompt: 'select_account' }`). */
  readonly authorizationParams?: Readonly<Record<string, string>>
}

export interface GitHubEndpoints {
  authorization: string
  token: string
  /** The REST API's base URL: `<api>/user` and `<api>/user/emails` are read. */
  api: string
}

interface ClientSettings {
  clientId: string
  clientSecret: string
  scopes?: readonly string[]
  label?: string
  authorizationParams?: Readonly<Record<string, string>>
}

export interface OidcSettings extends ClientSettings {
  issuer: string
}

export interface MicrosoftSettings extends ClientSettings {
  /**
   * The directory (tenant) id, a GUID. The multi-tenant names (`common`, `organizations`, `consumers`) are
   * refused: their discovery document names another issuer than the one asked, which strict ID-token
   * validation (rightly) does not accept.
   */
  tenant: string
}

export interface GitHubSettings extends ClientSettings {
  endpoints?: Partial<GitHubEndpoints>
}

const OIDC_SCOPES = ['openid', 'email', 'profile'] as const

/** Any OpenID Connect provider with discovery (Keycloak, Auth0, Okta, Authentik, `oidc-provider`...). */
export function oidc (settings: OidcSettings): ProviderDefinition {
  const { issuer, clientId, clientSecret, scopes = OIDC_SCOPES, label = 'OpenID Connect', authorizationParams } = settings
  return { kind: 'oidc', label, issuer, clientId, clientSecret, scopes, authorizationParams }
}

export function google (settings: Omit<OidcSettings, 'issuer'> & { issuer?: string }): ProviderDefinition {
  return oidc({ label: 'Google', issuer: 'https://accounts.google.com', ...settings })
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function microsoft (settings: MicrosoftSettings & { issuer?: string }): ProviderDefinition {
  const { tenant, issuer, ...rest } = settings
  if (issuer === undefined && !GUID.test(String(tenant))) {
    throw new ConfigurationError('fastify-drizzle-auth: microsoft(): `tenant` must be your directory (tenant) id, a GUID (see docs/providers.md)')
  }
  return oidc({ label: 'Microsoft', issuer: issuer ?? `https://login.microsoftonline.com/${tenant}/v2.0`, ...rest })
}

export function github (settings: GitHubSettings): ProviderDefinition {
  const { clientId, clientSecret, scopes = ['read:user', 'user:email'], label = 'GitHub', authorizationParams, endpoints = {} } = settings
  const resolved: GitHubEndpoints = {
    authorization: endpoints.authorization ?? 'https://github.com/login/oauth/authorize',
    token: endpoints.token ?? 'https://github.com/login/oauth/access_token',
    api: endpoints.api ?? 'https://api.github.com'
  }
  return { kind: 'github', label, issuer: new URL(resolved.authorization).origin, clientId, clientSecret, scopes, endpoints: resolved, authorizationParams }
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/

/** What keeps `providers` from being usable, said for the ConfigurationError; undefined when nothing does. */
export function providersShortfall (providers: Readonly<Record<string, unknown>>): string | undefined {
  for (const [name, value] of Object.entries(providers)) {
    if (name === 'providers' || name === 'token' || name === 'link') return `'${name}' is taken by a bundled route (/oauth/${name}): choose another name`
    if (!NAME.test(name)) return `the name '${name}' must be lower-case letters, digits and '-', starting with a letter (it is part of the URL)`
    const p = value as Partial<ProviderDefinition> | null
    if (p === null || typeof p !== 'object' || (p.kind !== 'oidc' && p.kind !== 'github')) {
      return `\`${name}\` must be made by oidc(), google(), microsoft() or github()`
    }
    for (const key of ['clientId', 'clientSecret'] as const) {
      if (typeof p[key] !== 'string' || p[key] === '') return `\`${name}.${key}\` is missing`
    }
    const urls = p.kind === 'github' ? [p.endpoints?.authorization, p.endpoints?.token, p.endpoints?.api] : [p.issuer]
    const bad = urls.findIndex((url) => !isSecureUrl(url))
    if (bad >= 0) return `\`${name}\`: '${String(urls[bad])}' must be an https URL (http only on a loopback address, for development)`
  }
  return undefined
}

/** https, or http on a loopback host (a provider run locally for development and tests). */
export function isSecureUrl (value: unknown): boolean {
  if (typeof value !== 'string' || !URL.canParse(value)) return false
  const url = new URL(value)
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))
}

export function isLoopback (hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}
