import { randomUUID } from 'node:crypto'
import type { AccountRecord, AccountSighting, AccountStore, LinkOutcome, NewAccount, UserRecord } from '../db/store.ts'
import { AuthenticationError, ConflictError } from '../errors.ts'
import { normalizeEmail } from '../service/email.ts'
import type { AuthEventEmitter } from '../service/events.ts'
import type { StoreAccess } from '../service/store-access.ts'
import { ProviderSignInError } from './errors.ts'
import type { ProviderProfile } from './profile.ts'

export interface IdentityDependencies {
  db: StoreAccess
  events: AuthEventEmitter
  clock: () => number
  linkByVerifiedEmail: boolean
}

/** Seals the provider's tokens for an account row; undefined when they are not kept. */
export type TokenSealer = ((accountId: string) => string) | undefined

export interface SignedInIdentity {
  user: UserRecord
  account: AccountRecord | { id: string }
  created: boolean
}

function linkRefusal (outcome: LinkOutcome): ProviderSignInError {
  if (outcome === 'linked_elsewhere') return new ProviderSignInError('account_linked_elsewhere', 'This provider account is already linked to another user')
  if (outcome === 'provider_taken') return new ProviderSignInError('provider_already_linked', 'Another account of this provider is linked already: unlink it first')
  return new ProviderSignInError('account_exists', 'An account with this email exists: sign in to it, then link this provider')
}

/**
 * Who a provider's profile is here: the user its identity is linked to; or, the first time, a new user, or
 * (the provider and the account both vouching for the address) the account of that address. Anything else
 * is 409 `account_exists` with nothing written: an address registered by someone else, or one the provider
 * does not verify, never gains a way into an account.
 */
function sighting (accountId: string, profile: ProviderProfile, seal: TokenSealer, now: number): AccountSighting {
  return { email: profile.email, emailVerified: profile.emailVerified, now: new Date(now), ...(seal === undefined ? {} : { tokens: seal(accountId) }) }
}

export class ProviderIdentities {
  readonly #d: IdentityDependencies

  constructor (dependencies: IdentityDependencies) {
    this.#d = dependencies
  }

  async signIn (provider: string, profile: ProviderProfile, seal: TokenSealer): Promise<SignedInIdentity> {
    const found = await this.#accounts((a) => a.findBySubject(provider, profile.subject))
    if (found !== undefined) {
      await this.#accounts((a) => a.sighted(found.account.id, sighting(found.account.id, profile, seal, this.#d.clock())))
      return { user: found.user, account: found.account, created: false }
    }
    if (profile.email === null) throw new ProviderSignInError('email_unavailable', 'The provider gave no verified email address for this account')
    const email = normalizeEmail(profile.email)
    const existing = await this.#d.db.call((store) => store.users.findByEmail(email))
    if (existing !== undefined) return await this.#linkByEmail(provider, profile, existing, seal)
    const account = this.#newAccount(provider, profile, seal)
    try {
      const made = await this.#accounts((a) => a.createWithUser({ email, passwordHash: null, isVerified: profile.emailVerified }, account))
      this.#d.events.emit('account_linked', { userId: made.user.id, provider, automatic: false })
      return { ...made, created: true }
    } catch (err) {
      // Not a taken address (a required column of the application's users table, say): as it is.
      if (!(err instanceof ConflictError)) throw err
      // A parallel first sign-in of the same identity made the user a moment ago: it is this one's too.
      const again = await this.#accounts((a) => a.findBySubject(provider, profile.subject))
      if (again === undefined) throw linkRefusal('refused')
      return { user: again.user, account: again.account, created: false }
    }
  }

  /** A signed-in user links a provider identity explicitly. */
  async link (userId: string, provider: string, profile: ProviderProfile, seal: TokenSealer): Promise<void> {
    const outcome = await this.#accounts((a) => a.link(userId, this.#newAccount(provider, profile, seal)))
    if (outcome === 'already_linked') return
    if (outcome === 'refused') throw new AuthenticationError('The account is not active', 'invalid_credentials')
    if (outcome !== 'linked') throw linkRefusal(outcome)
    this.#d.events.emit('account_linked', { userId, provider, automatic: false })
  }

  async #linkByEmail (provider: string, profile: ProviderProfile, existing: UserRecord, seal: TokenSealer): Promise<SignedInIdentity> {
    if (!this.#d.linkByVerifiedEmail || !profile.emailVerified || !existing.isVerified) throw linkRefusal('refused')
    const account = this.#newAccount(provider, profile, seal)
    // The account's address must still be this one, verified, when the link is written (one statement decides).
    const outcome = await this.#accounts((a) => a.link(existing.id, account, existing.email))
    if (outcome !== 'linked') throw linkRefusal(outcome)
    this.#d.events.emit('account_linked', { userId: existing.id, provider, automatic: true })
    return { user: existing, account, created: false }
  }

  #newAccount (provider: string, profile: ProviderProfile, seal: TokenSealer): NewAccount {
    const id = randomUUID()
    return { id, provider, subject: profile.subject, email: profile.email, emailVerified: profile.emailVerified, tokens: seal?.(id) ?? null, createdAt: new Date(this.#d.clock()) }
  }

  async #accounts<T> (work: (accounts: AccountStore) => Promise<T>): Promise<T> {
    return await this.#d.db.call((store) => work(store.accounts!))
  }
}
