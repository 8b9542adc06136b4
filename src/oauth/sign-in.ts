import { createHash, randomUUID } from 'node:crypto'
import * as client from 'openid-client'
import type { AccountRecord, AccountStore, UserRecord } from '../db/store.ts'
import { AuthenticationError, describeError, EmailNotVerifiedError, InvalidArgumentError } from '../errors.ts'
import type { ResolvedConfig } from '../service/config.ts'
import type { AuthEventEmitter } from '../service/events.ts'
import type { AttemptLimiter } from '../service/limits.ts'
import type { LoginResult } from '../service/results.ts'
import { MAX_USER_AGENT, type SessionOpener } from '../service/session-opener.ts'
import { hashActionToken, isActionTokenShape, newActionToken } from '../service/tokens.ts'
import type { StoreAccess } from '../service/store-access.ts'
import { Sealer } from '../lib/sealer.ts'
import { objectArgument, optionalString } from '../service/arguments.ts'
import { ProviderSignInError, ProviderUnavailableError } from './errors.ts'
import { ProviderIdentities, type TokenSealer } from './identity.ts'
import { keptTokens, profileOf, type ProviderProfile, type ProviderToken } from './profile.ts'
import { ProviderClients, unreachable } from './provider-clients.ts'
import type { ProviderDefinition } from './providers.ts'
import { RedirectPolicy } from './redirects.ts'

const FLOW_TTL_MS = 10 * 60_000
const CODE_TTL_MS = 60_000
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/

export interface StartOptions {
  /** Where the browser returns afterwards: checked against `oauth.allowedRedirects`. */
  redirectTo?: string | null
  /** The signed-in user linking this provider (a link, not a sign-in). */
  linkUserId?: string | null
  /** A bearer client's S256 challenge: its completion code can only be exchanged with the matching verifier. */
  codeChallenge?: string | null
  ip?: string | null
}

/** How a callback that signs someone in finishes: cookies (`session`), a completion code, or `auto` (a code when the start gave a challenge). */
export type Completion = 'session' | 'code' | 'auto'

export type CallbackOutcome =
  | { kind: 'session', redirectTo: string, login: LoginResult }
  | { kind: 'code', redirectTo: string, code: string }
  | { kind: 'linked', redirectTo: string }
  /** A link finished in a browser that cannot show who started it: the starting user exchanges the code (`completeLink`). */
  | { kind: 'link_code', redirectTo: string, code: string }

export interface CallbackOptions {
  ip?: string | null
  userAgent?: string | null
  completion?: Completion
  /**
   * Who may finish a link (`link=1`) here: the user who started it, signed in on this request
   * (`signedInUserId`), or the browser that started it (`browserBound`, the routes' flow cookie). Anyone else
   * finishing someone's link flow would link their own provider identity to that user (link CSRF). Sign-ins
   * need neither: their state lives server-side, so a flow survives a lost cookie. Default: true.
   */
  browserBound?: boolean
  signedInUserId?: string | null
}

export type { ProviderToken }

export interface ProviderSignInDependencies {
  config: ResolvedConfig
  db: StoreAccess
  events: AuthEventEmitter
  limits: AttemptLimiter
  opener: SessionOpener
}

const INVALID_CODE = () => new ProviderSignInError('invalid_code', 'The code is unknown, used, expired, or not for this code_verifier: start again')
/** RFC 7636 S256: what a client's `code_challenge` is of its verifier. */
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url')

/**
 * Provider sign-in through openid-client: a flow stored server-side and consumed once, PKCE (S256), nonce and
 * state; the identity resolved by ProviderIdentities; the session made by the same opener as a password
 * login's, or handed to a bearer client as a one-time completion code.
 */
export class ProviderSignIn {
  readonly #d: ProviderSignInDependencies
  readonly #providers: Readonly<Record<string, ProviderDefinition>>
  readonly #clients: ProviderClients
  readonly #redirects: RedirectPolicy
  readonly #identities: ProviderIdentities
  readonly #sealer: Sealer

  constructor (dependencies: ProviderSignInDependencies) {
    this.#d = dependencies
    const { providers = {}, oauth, clock, secret } = dependencies.config
    this.#providers = providers
    this.#clients = new ProviderClients(providers, oauth.timeoutSeconds, clock)
    // Not asked before a provider is known, and the configuration requires one with `providers`.
    this.#redirects = new RedirectPolicy(oauth.allowedRedirects)
    this.#identities = new ProviderIdentities({ db: dependencies.db, events: dependencies.events, clock, linkByVerifiedEmail: oauth.linkByVerifiedEmail })
    this.#sealer = new Sealer(secret, 'provider token encryption v1')
  }

  /** The providers by name with their labels (for a page's buttons). */
  list (): Array<{ name: string, label: string }> {
    return Object.entries(this.#providers).map(([name, p]) => ({ name, label: p.label }))
  }

  /** The redirect URI registered at the provider for `name`. */
  callbackUrl (name: string): string {
    return `${this.#d.config.oauth.callbackBaseUrl!.replace(/\/$/, '')}/oauth/${name}/callback`
  }

  /** Fetches every provider's discovery document now; one that fails is logged and retried at its next sign-in. */
  async warmUp (warn: (details: object, message: string) => void): Promise<void> {
    await Promise.all(Object.keys(this.#providers).map(async (name) => {
      try {
        await this.#clients.configuration(name)
      } catch (err) {
        warn({ provider: name, err: describeError((err as Error).cause) }, `fastify-drizzle-auth: identity provider '${name}' cannot be reached; sign-ins through it answer 503 until it can`)
      }
    }))
  }

  /** The provider's authorization URL to send the browser to; the flow waits server-side, single use, 10 minutes. */
  async start (name: string, options: StartOptions = {}): Promise<string> {
    const provider = this.#provider(name)
    const { redirectTo: givenRedirect, linkUserId: givenLink, codeChallenge } = objectArgument(options, 'options')
    const challenge = optionalString(codeChallenge, 'options.codeChallenge')
    if (challenge !== null && !isActionTokenShape(challenge)) throw new InvalidArgumentError('`code_challenge` must be the base64url SHA-256 of your code verifier (43 characters, S256)')
    const linkUserId = optionalString(givenLink, 'options.linkUserId')
    const redirectTo = this.#redirects.check(optionalString(givenRedirect, 'options.redirectTo') ?? undefined)
    await this.#d.limits.providerSignIn(options.ip ?? null)
    const config = await this.#clients.configuration(name)
    const state = newActionToken()
    const codeVerifier = client.randomPKCECodeVerifier()
    const nonce = provider.kind === 'oidc' ? client.randomNonce() : ''
    const now = this.#d.config.clock()
    await this.#call((a) => a.beginFlow({
      id: randomUUID(),
      stateHash: hashActionToken(state),
      provider: name,
      codeVerifier,
      nonce,
      redirectTo,
      linkUserId,
      clientChallenge: challenge,
      createdAt: new Date(now),
      expiresAt: new Date(now + FLOW_TTL_MS)
    }))
    const url = client.buildAuthorizationUrl(config, {
      ...provider.authorizationParams,
      redirect_uri: this.callbackUrl(name),
      scope: provider.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      ...(nonce === '' ? {} : { nonce })
    })
    return url.href
  }

  /** The provider's answer: the flow consumed once, the code exchanged and checked, then a sign-in or a link. */
  async callback (name: string, query: Readonly<Record<string, unknown>>, options: CallbackOptions = {}): Promise<CallbackOutcome> {
    const provider = this.#provider(name)
    await this.#d.limits.providerSignIn(options.ip ?? null)
    const state = isActionTokenShape(query.state) ? query.state : undefined
    const flow = state === undefined ? undefined : await this.#call((a) => a.consumeFlow(hashActionToken(state), name, new Date(this.#d.config.clock())))
    if (flow === undefined) throw new ProviderSignInError('invalid_state', 'This sign-in link is unknown, used or expired: start again')
    try {
      const completion = options.completion ?? 'session'
      const toCode = completion === 'code' || (completion === 'auto' && flow.clientChallenge !== null)
      const { profile, seal } = await this.#exchange(name, provider, query, state!, flow)
      if (flow.linkUserId !== null) {
        // Link CSRF: whoever finishes someone else's link flow would link their own identity to that user. A
        // link is made here only for the browser or the user that started it; otherwise it waits for the
        // starting user to exchange the code (and its verifier, when the start gave a challenge).
        if (options.browserBound === false && options.signedInUserId !== flow.linkUserId) {
          const code = await this.#issue(flow, flow.linkUserId, null, JSON.stringify(profile))
          return { kind: 'link_code', redirectTo: flow.redirectTo, code }
        }
        await this.#identities.link(flow.linkUserId, name, profile, seal)
        return { kind: 'linked', redirectTo: flow.redirectTo }
      }
      const { user, account } = await this.#identities.signIn(name, profile, seal)
      this.#admit(user)
      if (toCode) return { kind: 'code', redirectTo: flow.redirectTo, code: await this.#issue(flow, user.id, account.id) }
      return { kind: 'session', redirectTo: flow.redirectTo, login: await this.#open(user, name, options) }
    } catch (err) {
      if (err !== null && typeof err === 'object') (err as { redirectTo?: string }).redirectTo ??= flow.redirectTo
      throw err
    }
  }

  /** A bearer client's completion code (and its verifier, when the start gave a challenge) for the tokens `/login` answers. */
  async exchange (code: string, codeVerifier: string | null, options: { ip?: string | null, userAgent?: string | null } = {}): Promise<LoginResult> {
    const consumed = await this.#consume(code, codeVerifier, options.ip)
    const user = consumed.profile !== null ? undefined : await this.#d.db.call((store) => store.users.findById(consumed.userId))
    if (user === undefined) throw INVALID_CODE()
    this.#admit(user)
    return await this.#open(user, consumed.provider, options)
  }

  /** Finishes a link whose callback could not show who started it: only that user, signed in, exchanges its code. Returns the provider. */
  async completeLink (userId: string, code: string, codeVerifier: string | null, options: { ip?: string | null } = {}): Promise<string> {
    const consumed = await this.#consume(code, codeVerifier, options.ip)
    if (consumed.profile === null || consumed.userId !== userId) throw INVALID_CODE()
    await this.#identities.link(userId, consumed.provider, JSON.parse(consumed.profile) as ProviderProfile, undefined)
    return consumed.provider
  }

  async #consume (code: string, codeVerifier: string | null, ip: string | null | undefined) {
    await this.#d.limits.providerSignIn(ip ?? null)
    if (!isActionTokenShape(code) || (codeVerifier !== null && !VERIFIER.test(String(codeVerifier)))) throw INVALID_CODE()
    const challenge = codeVerifier === null ? null : s256(codeVerifier)
    const consumed = await this.#call((a) => a.consumeCode(hashActionToken(code), challenge, new Date(this.#d.config.clock())))
    if (consumed === undefined) throw INVALID_CODE()
    return consumed
  }

  async #issue (flow: { id: string }, userId: string, accountId: string | null, profile?: string): Promise<string> {
    const code = newActionToken()
    const expiresAt = new Date(this.#d.config.clock() + CODE_TTL_MS)
    await this.#call((a) => a.issueCode({ flowId: flow.id, codeHash: hashActionToken(code), userId, accountId, expiresAt, ...(profile === undefined ? {} : { profile }) }))
    return code
  }

  async accounts (userId: string): Promise<AccountRecord[]> {
    return await this.#call((a) => a.listForUser(userId))
  }

  async unlink (userId: string, provider: string): Promise<void> {
    const outcome = await this.#call((a) => a.unlink(userId, provider))
    if (outcome === 'not_linked') throw new ProviderSignInError('account_not_linked', `No '${provider}' account is linked`)
    if (outcome === 'last_sign_in_method') {
      throw new ProviderSignInError('last_sign_in_method', 'This is your only way to sign in: set a password (through password reset) or link another provider first')
    }
    this.#d.events.emit('account_unlinked', { userId, provider })
  }

  /** The provider's tokens kept for the user (`oauth.storeTokens`), or undefined. */
  async providerToken (userId: string, provider: string): Promise<ProviderToken | undefined> {
    const found = await this.#call((a) => a.findTokens(userId, provider))
    if (found?.tokens == null) return undefined
    const kept = JSON.parse(this.#sealer.open(found.accountId, found.tokens)) as Omit<ProviderToken, 'expiresAt'> & { expiresAt: string | null }
    return { ...kept, expiresAt: kept.expiresAt === null ? null : new Date(kept.expiresAt) }
  }

  async #exchange (name: string, provider: ProviderDefinition, query: Readonly<Record<string, unknown>>, state: string, flow: { codeVerifier: string, nonce: string }) {
    if (typeof query.error === 'string') {
      throw query.error === 'access_denied'
        ? new ProviderSignInError('access_denied', 'The sign-in was cancelled at the provider')
        : new ProviderSignInError('provider_error', 'The provider refused the sign-in')
    }
    const config = await this.#clients.configuration(name)
    const current = new URL(this.callbackUrl(name))
    for (const [key, value] of Object.entries(query)) if (typeof value === 'string') current.searchParams.set(key, value)
    try {
      const grant = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: flow.codeVerifier, expectedState: state, ...(provider.kind === 'oidc' ? { expectedNonce: flow.nonce, idTokenExpected: true } : {})
      })
      const profile: ProviderProfile = await profileOf(provider, config, grant)
      const seal: TokenSealer = this.#d.config.oauth.storeTokens ? (accountId) => this.#sealer.seal(accountId, JSON.stringify(keptTokens(grant, this.#d.config.clock()))) : undefined
      return { profile, seal }
    } catch (err) {
      if (unreachable(err)) throw new ProviderUnavailableError(name, { cause: err })
      throw new ProviderSignInError('provider_error', 'The provider\'s answer could not be verified', { cause: err })
    }
  }

  #admit (user: UserRecord): void {
    if (!user.isActive) throw new AuthenticationError('Invalid credentials', 'invalid_credentials')
    if (this.#d.config.account.requireVerifiedEmail && !user.isVerified) throw new EmailNotVerifiedError()
  }

  async #open (user: UserRecord, provider: string, options: { ip?: string | null, userAgent?: string | null }): Promise<LoginResult> {
    const how = { method: `oauth:${provider}`, ip: options.ip ?? null, userAgent: options.userAgent?.slice(0, MAX_USER_AGENT) ?? null }
    const opened = await this.#d.opener.open({ user, device: undefined, settle: undefined, ...how })
    // Deactivated (or its password changed) since it was read: refused like a password login.
    if (opened === undefined) throw new AuthenticationError('Invalid credentials', 'invalid_credentials')
    return this.#d.opener.result(user, opened, how)
  }

  #provider (name: string): ProviderDefinition {
    const provider = Object.hasOwn(this.#providers, name) ? this.#providers[name] : undefined
    if (provider === undefined) throw new ProviderSignInError('unknown_provider', `No identity provider is named '${name}'`)
    return provider
  }

  async #call<T> (work: (accounts: AccountStore) => Promise<T>): Promise<T> {
    return await this.#d.db.call((store) => work(store.accounts!))
  }
}
