import * as client from 'openid-client'
import type { ProviderDefinition } from './providers.ts'

/** Who the provider says signed in. */
export interface ProviderProfile {
  subject: string
  /** Only an address the provider gave; null when it gave none (GitHub: no verified primary address). */
  email: string | null
  emailVerified: boolean
}

type Grant = Awaited<ReturnType<typeof client.authorizationCodeGrant>>

/** `email_verified` as providers send it: a boolean, or (some older ones) the string 'true'. */
const verified = (value: unknown) => value === true || value === 'true'

/**
 * OIDC: the validated ID token's claims, and the userinfo endpoint (checked to be about the same subject)
 * when the ID token carries no address. GitHub: `/user` for the id, `/user/emails` for the primary address,
 * which counts only when GitHub says it is verified.
 */
export async function profileOf (provider: ProviderDefinition, config: client.Configuration, grant: Grant): Promise<ProviderProfile> {
  if (provider.kind === 'github') return await gitHubProfile(provider, config, grant.access_token)
  const claims = grant.claims()!
  let email = claims.email
  let emailVerified = claims.email_verified
  if (typeof email !== 'string') {
    const info = await client.fetchUserInfo(config, grant.access_token, claims.sub)
    email = info.email
    emailVerified = info.email_verified
  }
  return { subject: claims.sub, email: typeof email === 'string' && email !== '' ? email : null, emailVerified: typeof email === 'string' && verified(emailVerified) }
}

interface GitHubEmail { email?: unknown, primary?: unknown, verified?: unknown }

async function gitHubProfile (provider: ProviderDefinition, config: client.Configuration, accessToken: string): Promise<ProviderProfile> {
  const api = provider.endpoints!.api.replace(/\/$/, '')
  const read = async (path: string): Promise<unknown> => {
    const headers = new Headers({ accept: 'application/vnd.github+json' })
    const response = await client.fetchProtectedResource(config, accessToken, new URL(`${api}${path}`), 'GET', undefined, headers)
    if (!response.ok) throw new Error(`GitHub answered ${response.status} to ${path}`)
    return await response.json()
  }
  const user = await read('/user') as { id?: unknown }
  if (typeof user?.id !== 'number' && typeof user?.id !== 'string') throw new Error('GitHub /user has no id')
  const emails = await read('/user/emails')
  // Not a list: `find` throws, and the sign-in is refused as the provider's error.
  const primary = (emails as GitHubEmail[]).find((e) => e?.primary === true && e.verified === true && typeof e.email === 'string')
  return { subject: String(user.id), email: primary === undefined ? null : String(primary.email), emailVerified: primary !== undefined }
}

/** The provider's own tokens, as `oauth.storeTokens` keeps them (sealed) for `getProviderToken()`. */
export interface ProviderToken { accessToken: string, refreshToken: string | null, expiresAt: Date | null, scope?: string }

export function keptTokens (grant: Grant, now: number): ProviderToken {
  const expiresIn = grant.expiresIn()
  return {
    accessToken: grant.access_token,
    refreshToken: grant.refresh_token ?? null,
    expiresAt: expiresIn === undefined ? null : new Date(now + expiresIn * 1000),
    scope: grant.scope
  }
}
