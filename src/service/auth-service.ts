import type { Table } from 'drizzle-orm'
import { type AuthConfig, getConfig, type ResolvedConfig, resolveConfig, takeHandover, withHandover } from './config.ts'
import type { AnyAuthStore, UserRecord } from '../db/store.ts'
import { AccountFlows, type AccountRequestOptions, type EmailConfirmOptions } from './account-flows.ts'
import { ConfigurationError, InvalidArgumentError, TokenInvalidError } from '../errors.ts'
import { AccessVerifier } from './access.ts'
import { objectArgument, optionalString } from './arguments.ts'
import { LoginFlow } from './login.ts'
import { OutboxDelivery } from './outbox-delivery.ts'
import { OutboxSeal } from './outbox-seal.ts'
import { PasswordFlows } from './password-flows.ts'
import { SessionFlows } from './session-flows.ts'
import { SessionOpener } from './session-opener.ts'
import { RefreshTokens } from './refresh-tokens.ts'
import { AUTH_EVENT_NAMES, type AuthEventListener, type AuthEventName, AuthEventEmitter, type AuthEvents, type AuthLogger, consoleLogger } from './events.ts'
import { AttemptLimiter } from './limits.ts'
import { type HashQueueState, PasswordHasher } from './passwords.ts'
import type { LoginOptions, LoginResult, PasswordChangeOptions, RegisterOptions, TokenPair, VerifiedAccess, VerifyCallback } from './results.ts'
import { StoreAccess } from './store-access.ts'
import { AccessTokenCodec } from './tokens.ts'
import type { AuthUser } from './user.ts'
import type { RegisterFields } from './user-fields.ts'
import { RegistrationFlow } from './registration.ts'
import { ProviderSignIn, type ProviderToken } from '../oauth/sign-in.ts'
import { type ListedSession, UserAdmin } from './user-admin.ts'

const BEARER_PREFIX = "Token is invalid: pass the token alone, without the 'Bearer ' scheme of the Authorization header"

/**
 * A service on a configuration resolved already (the plugin's path: it resolved the options to validate its
 * own). Not exported from the package: applications hand `new AuthService()` their options.
 */
export function serviceOnResolvedConfig (config: ResolvedConfig): AuthService {
  return withHandover(config, () => new AuthService())
}

/**
 * Registration, login, token verification and rotation, logout and password changes, with no Fastify in
 * sight: usable from a script, a worker or a test. Depends on the `AuthStore` contract only: the store is
 * given (`store`), or opened from the `database` shortcut by the dialect that fits it.
 */
export class AuthService<TUsers extends Table | undefined = undefined> {
  readonly config: ResolvedConfig
  readonly #db: StoreAccess
  readonly #codec: AccessTokenCodec
  readonly #passwords: PasswordHasher
  readonly #events: AuthEventEmitter
  readonly #log: AuthLogger
  readonly #limits: AttemptLimiter
  readonly #login: LoginFlow
  readonly #access: AccessVerifier
  readonly #password: PasswordFlows
  readonly #account: AccountFlows
  readonly #delivery: OutboxDelivery | undefined
  readonly #sessions: SessionFlows
  readonly #registration: RegistrationFlow<TUsers>
  readonly #admin: UserAdmin
  readonly #oauth: ProviderSignIn

  constructor (config?: AuthConfig & { usersTable?: TUsers }) {
    this.config = takeHandover() ?? (config === undefined ? getConfig() : resolveConfig(config))
    this.#log = this.config.logger ?? consoleLogger
    this.#db = new StoreAccess(this.config, this.#log)
    this.#codec = new AccessTokenCodec(this.config)
    const { bcryptRounds, passwordValidators, hashConcurrency, hashQueueLimit, hashThreads } = this.config
    this.#passwords = new PasswordHasher(bcryptRounds, passwordValidators, hashConcurrency, hashQueueLimit, hashThreads)
    this.#events = new AuthEventEmitter(this.#log)
    this.#limits = new AttemptLimiter(this.config, (operation) => this.#db.call(operation), (event) => {
      this.#log.warn({ action: event.action, ip: event.ip, retryAfter: event.retryAfter }, 'fastify-drizzle-auth: rate limit exceeded')
      this.#events.emit('rate_limit_exceeded', event)
    })
    const refreshTokens = new RefreshTokens(this.config.secret, this.config.clock)
    const opener = new SessionOpener({ config: this.config, db: this.#db, events: this.#events, codec: this.#codec, refreshTokens })
    this.#login = new LoginFlow({ config: this.config, db: this.#db, passwords: this.#passwords, limits: this.#limits, events: this.#events, opener })
    this.#oauth = new ProviderSignIn({ config: this.config, db: this.#db, events: this.#events, limits: this.#limits, opener })
    this.#access = new AccessVerifier(this.#codec, this.#db, this.#log)
    this.#sessions = new SessionFlows({ config: this.config, db: this.#db, codec: this.#codec, refreshTokens, events: this.#events, log: this.#log })
    const base = { clock: this.config.clock, db: this.#db, passwords: this.#passwords, limits: this.#limits, events: this.#events }
    this.#admin = new UserAdmin(base)
    this.#password = new PasswordFlows({ ...base, revokeAll: (userId, reason, except) => this.#admin.revokeAll(userId, reason, except) })
    const seal = new OutboxSeal(this.config.secret)
    const { mailer, outbox } = this.config.account
    this.#delivery = mailer === undefined ? undefined : new OutboxDelivery({ clock: this.config.clock, db: this.#db, seal, mailer, config: outbox, events: this.#events, log: this.#log })
    this.#account = new AccountFlows({ ...base, config: this.config, seal, log: this.#log, wake: () => this.#delivery?.wake() })
    this.#registration = new RegistrationFlow({ ...base, config: this.config, account: this.#account })
    this.#passwords.dummyHash().catch(() => {})
  }

  /** The store, once open (at once when one was given; after `ready()` for the `database` shortcut). */
  get store (): AnyAuthStore {
    return this.#db.store
  }

  /** The password-hashing queue as it stands: slots in use, logins and other jobs waiting. */
  get hashQueue (): HashQueueState {
    return this.#passwords.queue
  }

  /** Provider sign-in (`providers`): the flow's start and callback, the completion-code exchange, linked accounts. */
  get oauth (): ProviderSignIn {
    return this.#oauth
  }

  /** The provider's tokens kept for the user (`oauth.storeTokens`), or undefined. */
  getProviderToken (userId: string, provider: string): Promise<ProviderToken | undefined> {
    return this.#oauth.providerToken(userId, provider)
  }

  /** Resolves once the store can answer; rejects with the opening error (a bad path) or ServiceUnavailableError (unreachable). */
  async ready (): Promise<void> {
    await this.#db.open()
    await this.#db.call((store) => store.ready())
    if (this.#oauth.list().length > 0 && this.store.accounts === undefined) {
      throw new ConfigurationError('fastify-drizzle-auth: `providers` needs a store with the `accounts` facet (provider identities); this store has none')
    }
  }

  on<E extends AuthEventName>(event: E, listener: AuthEventListener<E>): () => void {
    if (!AUTH_EVENT_NAMES.includes(event)) throw new InvalidArgumentError(`Unknown event '${String(event)}': one of ${AUTH_EVENT_NAMES.join(', ')}`)
    if (typeof listener !== 'function') throw new InvalidArgumentError('`listener` must be a function')
    return this.#events.on(event, listener)
  }

  /**
   * Creates an account; with `mailer`, its verification link follows the answer (`options.after`). Raises
   * InvalidEmailError, InvalidPasswordError, InvalidFieldError (a required column missing, or a value the table
   * refuses), ConflictError('email_taken' | 'field_taken'), RateLimitError (too many from `options.ip`) or
   * BusyError (the hashing queue is full).
   */
  register (email: string, password: string, fields: RegisterFields<TUsers> = {} as RegisterFields<TUsers>, options: RegisterOptions = {}): Promise<AuthUser> {
    return this.#registration.run(email, password, fields, options)
  }

  /** Checks the credentials and opens a session; every failure costs one bcrypt comparison and raises the same AuthenticationError. */
  login (email: string, password: string, options: LoginOptions = {}): Promise<LoginResult> {
    return this.#login.run(email, password, options)
  }

  /** The user an access token belongs to: `verifyAccessToken(token)`'s user. */
  async authenticate (accessToken: string): Promise<AuthUser> {
    return (await this.verifyAccessToken(accessToken)).user
  }

  /**
   * Verifies the token (signature and claims), then one indexed lookup: the session is live and its user
   * active. Raises a TokenError subclass, AuthenticationError (inactive) or ServiceUnavailableError.
   * With a callback, no promise is made, and on a synchronous store (SQLite) the callback runs before this
   * returns: the bearer hook's way.
   */
  verifyAccessToken (accessToken: string): Promise<VerifiedAccess>
  verifyAccessToken (accessToken: string, callback: VerifyCallback): void
  verifyAccessToken (accessToken: string, callback?: VerifyCallback): Promise<VerifiedAccess> | undefined {
    if (callback === undefined) {
      if (typeof accessToken === 'string' && /^bearer\s/i.test(accessToken)) return Promise.reject(new TokenInvalidError(BEARER_PREFIX))
      return new Promise((resolve, reject) => { this.#access.verify(accessToken, (err, verified) => err === null ? resolve(verified!) : reject(err)) })
    }
    if (typeof callback !== 'function') throw new InvalidArgumentError('`callback` must be a function when given')
    this.#access.verify(accessToken, callback)
  }

  /**
   * Consumes a refresh token and returns the next pair. A token is good once: a replay of the previous
   * generation within the grace window is ConflictError('refresh_in_progress'); any other replay is reuse
   * and revokes the whole session. `ip` becomes the session's latest address.
   */
  refresh (refreshToken: string, options: { ip?: string | null } = {}): Promise<TokenPair> {
    return this.#sessions.refresh(refreshToken, optionalString(objectArgument(options, 'options').ip, 'options.ip'))
  }

  /** Revokes the session of an access token (also an expired one) or a refresh token; never throws (nothing to do is no error). */
  async logout (token: string): Promise<void> {
    await this.#sessions.logout(token)
  }

  /** Revokes every session and every device token of the user; returns how many sessions were live. */
  async logoutAll (userId: string): Promise<number> {
    return this.#admin.logoutAll(userId)
  }

  /** Checks a password against the user's hash (one bcrypt comparison, also when there is no hash). */
  checkPassword (userOrId: string | { id: string }, password: string): Promise<boolean> {
    return this.#password.check(userOrId, password)
  }

  /**
   * Validates and stores a new password, then revokes every session of the user but `keepSessionId`
   * (the one the change was made from, when there is one), every device token, and the reset and
   * email-change links in flight.
   */
  setPassword (userOrId: string | { id: string }, password: string, options: PasswordChangeOptions = {}): Promise<void> {
    return this.#password.set(userOrId, password, options)
  }

  /**
   * The bundled `/password` route: the current password must match (InvalidCurrentPasswordError, 403). Wrong
   * ones are counted like failed logins of the account (RateLimitError, 429, past the limits).
   */
  changePassword (user: { id: string }, currentPassword: string, newPassword: string, options: PasswordChangeOptions = {}): Promise<void> {
    return this.#password.change(user, currentPassword, newPassword, options)
  }

  /** Mails a verification link to the user's address (409 `already_verified` when it is). */
  requestEmailVerification (userId: string, options?: AccountRequestOptions): Promise<void> {
    return this.#account.requestEmailVerification(userId, options)
  }

  /** Mails a new verification link when the address is an unverified active account's; the same work and answer when not. */
  resendEmailVerification (email: string, options?: AccountRequestOptions): Promise<void> {
    return this.#account.resendEmailVerification(email, options)
  }

  /** Marks the address verified; InvalidActionTokenError (400 `invalid_token`) for any token that cannot be used. */
  verifyEmail (token: string, options?: AccountRequestOptions): Promise<void> {
    return this.#account.verifyEmail(token, options)
  }

  /** Mails a reset link when the address is an active account's; the same work and answer when it is not. */
  requestPasswordReset (email: string, options?: AccountRequestOptions): Promise<void> {
    return this.#account.requestPasswordReset(email, options)
  }

  /** Sets the password from a reset token; every session ends, nobody is logged in, a notice is mailed. */
  resetPassword (token: string, newPassword: string, options?: AccountRequestOptions): Promise<void> {
    return this.#account.resetPassword(token, newPassword, options)
  }

  /** Mails a confirmation link to `newEmail` (current password required); the address changes once it is followed. */
  requestEmailChange (userId: string, currentPassword: string, newEmail: string, options?: AccountRequestOptions): Promise<void> {
    return this.#account.requestEmailChange(userId, currentPassword, newEmail, options)
  }

  /** Moves the account to its confirmed new address, ends its other sessions and tells the old address. */
  confirmEmailChange (token: string, options?: EmailConfirmOptions): Promise<void> {
    return this.#account.confirmEmailChange(token, options)
  }

  /** Starts sending the outbox's mail in the background (the plugin does at ready); no-op without `mailer`. */
  startMailDelivery (): void {
    this.#delivery?.start()
  }

  /** Stops the background sending, waiting for the messages in flight. */
  async stopMailDelivery (): Promise<void> {
    await this.#delivery?.stop()
  }

  /** Resolves once the work mail-sending requests handed on after their answer has run (a script can then send or close). */
  async settled (): Promise<void> {
    await this.#account.settled()
  }

  /** Sends the due messages now and returns how many went (a script's or a worker's way to run the outbox). */
  async deliverMail (): Promise<number> {
    await this.#account.settled()
    return this.#delivery === undefined ? 0 : this.#delivery.deliverDue()
  }

  /** The user's live sessions, newest first (at most 100), the one `currentSessionId` names marked `current`. */
  listSessions (userId: string, currentSessionId?: string | null): Promise<ListedSession[]> {
    return this.#admin.listSessions(userId, currentSessionId)
  }

  /** Ends one of the user's other sessions: SessionNotFoundError unless it is a live one of theirs; UseLogoutError for the current one. */
  revokeSession (userId: string, sessionId: string, currentSessionId?: string | null): Promise<void> {
    return this.#admin.revokeSession(userId, sessionId, currentSessionId)
  }

  /** Ends every session of the user but `currentSessionId` (and keeps device tokens); returns how many. */
  revokeOtherSessions (userId: string, currentSessionId: string | null): Promise<number> {
    return this.#admin.revokeOtherSessions(userId, currentSessionId)
  }

  /** Blocks the account and ends its sessions and device tokens: its tokens fail on the next request. */
  async deactivate (userId: string): Promise<void> {
    await this.#admin.deactivate(userId)
  }

  async activate (userId: string): Promise<void> {
    await this.#admin.activate(userId)
  }

  async getUser (id: string): Promise<AuthUser | undefined> {
    return this.#admin.getUser(id)
  }

  /** Deletes ended sessions, tokens, windows and flows; a live session's used refresh tokens stay (a replay is still recognised). */
  async purgeExpired (): Promise<number> {
    return this.#admin.purgeExpired()
  }

  async close (): Promise<void> {
    // Requests answered before their mail was queued are finished first: closing loses none of them.
    await this.#account.settled()
    await this.#delivery?.stop()
    await this.#db.close()
  }
}

export type { AuthEvents, UserRecord }
export type { LoginOptions, LoginResult, PasswordChangeOptions, RegisterOptions, TokenPair, VerifiedAccess, VerifyCallback }
