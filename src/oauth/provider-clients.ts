import * as client from 'openid-client'
import { ProviderUnavailableError } from './errors.ts'
import { isLoopback, type ProviderDefinition } from './providers.ts'

/** How long a failed discovery is not retried (a burst of sign-ins while the provider is down asks it once). */
const RETRY_AFTER_FAILURE_MS = 2000

interface Entry {
  config: Promise<client.Configuration> | undefined
  failedAt: number
  failure: unknown
}

/**
 * openid-client configurations, one per provider: an OIDC provider's comes from discovery, fetched once and
 * kept; a failed discovery is not kept, so the next sign-in (after a short pause) asks again. GitHub's is
 * made from its fixed endpoints.
 */
export class ProviderClients {
  readonly #providers: Readonly<Record<string, ProviderDefinition>>
  readonly #timeout: number
  readonly #clock: () => number
  readonly #entries = new Map<string, Entry>()

  constructor (providers: Readonly<Record<string, ProviderDefinition>>, timeoutSeconds: number, clock: () => number) {
    this.#providers = providers
    this.#timeout = timeoutSeconds
    this.#clock = clock
  }

  /** The provider's configuration; ProviderUnavailableError when it cannot be had now. */
  async configuration (name: string): Promise<client.Configuration> {
    let entry = this.#entries.get(name)
    if (entry === undefined) this.#entries.set(name, entry = { config: undefined, failedAt: -Infinity, failure: undefined })
    if (entry.config === undefined) {
      if (this.#clock() - entry.failedAt < RETRY_AFTER_FAILURE_MS) throw new ProviderUnavailableError(name, { cause: entry.failure })
      const made = this.#make(this.#providers[name])
      entry.config = made
      made.catch((err: unknown) => {
        entry.config = undefined
        entry.failedAt = this.#clock()
        entry.failure = err
      })
    }
    try {
      return await entry.config
    } catch (err) {
      throw new ProviderUnavailableError(name, { cause: err })
    }
  }

  async #make (provider: ProviderDefinition): Promise<client.Configuration> {
    // Plain http only for a provider on this machine (development, tests); checked at configuration too.
    const transport = isLoopback(new URL(provider.issuer).hostname) ? [client.allowInsecureRequests] : []
    let config: client.Configuration
    if (provider.kind === 'github') {
      const { authorization, token } = provider.endpoints!
      config = new client.Configuration({ issuer: provider.issuer, authorization_endpoint: authorization, token_endpoint: token }, provider.clientId, provider.clientSecret)
      for (const apply of transport) apply(config)
    } else {
      // Non-repudiation: the ID token's signature is checked against the provider's JWKS even though it came
      // straight from the token endpoint (openid-client would otherwise rely on TLS alone).
      config = await client.discovery(new URL(provider.issuer), provider.clientId, provider.clientSecret, undefined, {
        execute: [...transport, client.enableNonRepudiationChecks],
        timeout: this.#timeout
      })
    }
    config.timeout = this.#timeout
    return config
  }
}

/** A network failure or a timeout, as opposed to an answer that did not verify. */
export function unreachable (err: unknown): boolean {
  for (let at = err, depth = 0; at instanceof Error && depth < 5; at = at.cause, depth++) {
    if (at.name === 'TimeoutError' || at.name === 'AbortError' || (at instanceof TypeError && at.message === 'fetch failed')) return true
  }
  return false
}
