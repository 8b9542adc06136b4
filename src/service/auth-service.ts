import type { Table } from 'drizzle-orm'
import { type AuthConfig, getConfig, type ResolvedConfig, resolveConfig } from '../config.ts'
import type { AnyAuthStore, UserRecord } from '../db/store.ts'
import {
  AuthenticationError, describeError, InvalidArgumentError, InvalidCurrentPasswordError, TokenInvalidError, TokenRevokedError
} from '../errors.ts'
import { AccessVerifier, refusal } from './access.ts'
import { LoginFlow } from './login.ts'
import { objectArgument, optionalString, passwordArgument, userIdOf } from './arguments.ts'
import { normalizeAndCheckEmail } from './email.ts'
import {
  AUTH_EVENT_NAMES, type AuthEventListener, type AuthEventName, AuthEventEmitter, type AuthEvents, type AuthLogger
} from './events.ts'
import { AttemptLimiter } from './limits.ts'
import { type HashQueueState, PasswordHasher } from './passwords.ts'
import type {
  LoginOptions, LoginResult, PasswordChangeOptions, RegisterOptions, TokenPair, VerifiedAccess, VerifyCallback
} from './results.ts'
import { StoreAccess } from './store-access.ts'
import { AccessTokenCodec, hashRefreshToken, isRefreshTokenShape, newRefreshToken } from './tokens.ts'
import { type AuthUser, toAuthUser, withoutHash } from './user.ts'
import { type RegisterFields, registerFieldsArgument } from './user-fields.ts'


const consoleLogger: AuthLogger = {
  warn: (obj, msg) => { console.warn(msg, obj) },
  error: (obj, msg) => { console.error(msg, obj) }
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

  constructor (config?: (AuthConfig & { usersTable?: TUsers }) | ResolvedConfig) {
    this.config = config === undefined ? getConfig() : resolveConfig(config)
    this.#log = this.config.logger ?? consoleLogger
    this.#db = new StoreAccess(this.config, this.#log)
    this.#codec = new AccessTokenCodec(this.config)
    this.#passwords = new PasswordHasher(
      this.config.bcryptRounds, this.config.passwordValidators, this.config.hashConcurrency, this.config.hashQueueLimit
    )
    this.#events = new AuthEventEmitter(this.#log)
    this.#limits = new AttemptLimiter(this.config, (operation) => this.#db.call(operation), (event) => {
      this.#log.warn({ action: event.action, ip: event.ip, retryAfter: event.retryAfter }, 'fastify-drizzle-auth: rate limit exceeded')
      this.#events.emit('rate_limit_exceeded', event)
    })
    this.#login = new LoginFlow({
      config: this.config, db: this.#db, passwords: this.#passwords, limits: this.#limits, events: this.#events, codec: this.#codec
    })
    this.#access = new AccessVerifier(this.#codec, this.#db)
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

  /**
   * Resolves once the store can answer (opened, migrations applied). A store that cannot be opened (a bad path,
   * a missing driver) rejects with its own error; one that cannot be reached rejects with ServiceUnavailableError.
   */
  async ready (): Promise<void> {
    await this.#db.open()
    await this.#db.call((store) => store.ready())
  }

  on<E extends AuthEventName>(event: E, listener: AuthEventListener<E>): () => void {
    if (!AUTH_EVENT_NAMES.includes(event)) throw new InvalidArgumentError(`Unknown event '${String(event)}': one of ${AUTH_EVENT_NAMES.join(', ')}`)
    if (typeof listener !== 'function') throw new InvalidArgumentError('`listener` must be a function')
    return this.#events.on(event, listener)
  }

  /**
   * Creates an account. Raises InvalidEmailError, InvalidPasswordError, ConflictError('email_taken'),
   * RateLimitError (too many from `options.ip`) or BusyError (the hashing queue is full).
   */
  async register (email: string, password: string, fields: RegisterFields<TUsers> = {} as RegisterFields<TUsers>, options: RegisterOptions = {}): Promise<AuthUser> {
    const normalized = normalizeAndCheckEmail(email)
    this.#passwords.validate(passwordArgument(password), { email: normalized })
    const extra = registerFieldsArgument(fields, this.config)
    const ip = optionalString(objectArgument(options, 'options').ip, 'options.ip')
    await this.#limits.registration(ip)
    const passwordHash = await this.#passwords.hash(password)
    const row = await this.#db.call((store) => store.createUser({ ...extra, email: normalized, passwordHash }))
    const user = toAuthUser(withoutHash(row))
    this.#events.emit('user_registered', { user })
    return user
  }

  /**
   * Checks the credentials and opens a session. Every failure (unknown email, inactive account, wrong or
   * unusable password, credentials changed while it was checking) costs one bcrypt comparison and raises the
   * same AuthenticationError.
   */
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
      return new Promise((resolve, reject) => { this.#access.verify(accessToken, (err, verified) => err === null ? resolve(verified!) : reject(err)) })
    }
    if (typeof callback !== 'function') throw new InvalidArgumentError('`callback` must be a function when given')
    this.#access.verify(accessToken, callback)
  }

  /**
   * Consumes a refresh token and returns the next pair. A token is good once: a replay of the previous
   * generation within the grace window is ConflictError('refresh_in_progress'); any other replay is reuse
   * and revokes the whole session.
   */
  async refresh (refreshToken: string): Promise<TokenPair> {
    if (!isRefreshTokenShape(refreshToken)) throw new TokenInvalidError('Refresh token is invalid')
    const next = newRefreshToken()
    const now = new Date()
    const result = await this.#db.call((store) => store.rotateRefreshToken(hashRefreshToken(refreshToken), hashRefreshToken(next), now))
    if (result.outcome === 'rotated') {
      const { userId, sessionId, expiresAt } = result
      return { accessToken: this.#codec.sign(userId, sessionId), refreshToken: next, tokenType: 'bearer', expiresIn: this.#codec.ttl, sessionId, sessionExpiresAt: expiresAt }
    }
    if (result.outcome === 'unknown') throw new TokenInvalidError('Refresh token is invalid')
    const verdict = refusal(result, now, this.config.refreshReuseGraceSeconds)
    if (verdict !== 'reuse') throw verdict
    const { session } = result
    await this.#db.call((store) => store.revokeSession(session.id, 'refresh_token_reused', now))
    this.#log.warn({ userId: session.userId, sessionId: session.id, generation: result.generation },
      'fastify-drizzle-auth: refresh token reuse detected, session revoked')
    this.#events.emit('refresh_token_reused', { userId: session.userId, sessionId: session.id })
    throw new TokenRevokedError('Refresh token reuse detected: the session has been revoked')
  }

  /**
   * Revokes the session of an access token (also an expired one) or of a refresh token. Never throws:
   * an unknown, forged or already-revoked token is simply nothing to do.
   */
  async logout (token: string): Promise<void> {
    try {
      const sessionId = await this.#sessionOf(token)
      if (sessionId === undefined) return
      const userId = await this.#db.call((store) => store.revokeSession(sessionId, 'logout', new Date()))
      if (userId !== undefined) this.#events.emit('user_logout', { userId, sessionId })
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'fastify-drizzle-auth: logout could not complete')
    }
  }

  /** Revokes every session and every device token of the user; returns how many sessions were live. */
  async logoutAll (userId: string): Promise<number> {
    const id = userIdOf(userId)
    const count = await this.#revokeAll(id, 'logout_all')
    this.#events.emit('user_logout', { userId: id, sessionId: null })
    return count
  }

  /** Checks a password against the user's hash (one bcrypt comparison, also when there is no hash). */
  async checkPassword (userOrId: string | { id: string }, password: string): Promise<boolean> {
    const id = userIdOf(userOrId, 'userOrId')
    passwordArgument(password)
    const row = await this.#db.call((store) => store.findUserById(id))
    return this.#passwords.verify(password, row?.passwordHash)
  }

  /**
   * Validates and stores a new password, then revokes every session of the user but `keepSessionId`
   * (the one the change was made from, when there is one) and every device token.
   */
  async setPassword (userOrId: string | { id: string }, password: string, options: PasswordChangeOptions = {}): Promise<void> {
    const id = userIdOf(userOrId, 'userOrId')
    passwordArgument(password)
    const keep = optionalString(objectArgument(options, 'options').keepSessionId, 'options.keepSessionId')
    await this.#storePassword(await this.#findUser(id), password, keep)
  }

  async #storePassword (row: UserRecord, password: string, keepSessionId: string | null): Promise<void> {
    this.#passwords.validate(password, { email: row.email })
    const passwordHash = await this.#passwords.hash(password)
    await this.#db.call((store) => store.updateUser(row.id, { passwordHash }, new Date()))
    await this.#revokeAll(row.id, 'password_changed', keepSessionId ?? undefined)
    this.#events.emit('password_changed', { userId: row.id })
  }

  /**
   * The bundled `/password` route: the current password must match (InvalidCurrentPasswordError, 403). Wrong
   * ones are counted like failed logins of the account (RateLimitError, 429, past the limits).
   */
  async changePassword (user: { id: string }, currentPassword: string, newPassword: string, options: PasswordChangeOptions = {}): Promise<void> {
    const id = userIdOf(user, 'user')
    passwordArgument(currentPassword, 'currentPassword')
    passwordArgument(newPassword, 'newPassword')
    const { ip: givenIp, keepSessionId } = objectArgument(options, 'options')
    const ip = optionalString(givenIp, 'options.ip')
    const keep = optionalString(keepSessionId, 'options.keepSessionId')
    const row = await this.#findUser(id)
    const matched = await this.#passwords.withSlot('other', async (slot) => {
      const attempt = await this.#limits.password('password_change', row.email, ip)
      const ok = await slot.verify(currentPassword, row.passwordHash)
      if (ok) await attempt.succeeded()
      return ok
    })
    if (!matched) throw new InvalidCurrentPasswordError()
    // The row just read: no second lookup of the user.
    await this.#storePassword(row, newPassword, keep)
  }

  /** Blocks the account and ends its sessions and device tokens: its tokens fail on the next request. */
  async deactivate (userId: string): Promise<void> {
    const id = userIdOf(userId)
    await this.#db.call((store) => store.updateUser(id, { isActive: false }, new Date()))
    await this.#revokeAll(id, 'deactivated')
  }

  async activate (userId: string): Promise<void> {
    const id = userIdOf(userId)
    await this.#db.call((store) => store.updateUser(id, { isActive: true }, new Date()))
  }

  async getUser (id: string): Promise<AuthUser | undefined> {
    const userId = userIdOf(id, 'id')
    const row = await this.#db.call((store) => store.findUserById(userId))
    return row === undefined ? undefined : toAuthUser(withoutHash(row))
  }

  /**
   * Deletes ended sessions with their refresh tokens, ended device tokens and ended rate-limit windows. The
   * used refresh tokens of a live session are kept: a replay is recognised as long as the session lives.
   */
  async purgeExpired (): Promise<number> {
    const count = await this.#db.call((store) => store.purgeExpired(new Date()))
    this.#events.emit('expired_purged', { count })
    return count
  }

  async close (): Promise<void> {
    await this.#db.close()
  }

  async #findUser (id: string): Promise<UserRecord> {
    const row = await this.#db.call((store) => store.findUserById(id))
    if (row === undefined) throw new AuthenticationError('User not found', 'user_not_found')
    return row
  }

  async #revokeAll (userId: string, reason: string, exceptSessionId?: string): Promise<number> {
    const now = new Date()
    const count = await this.#db.call((store) => store.revokeUserSessions(userId, reason, now, exceptSessionId))
    await this.#db.call((store) => store.revokeDeviceTokens(userId, now))
    return count
  }

  async #sessionOf (token: string): Promise<string | undefined> {
    if (isRefreshTokenShape(token)) return this.#db.call((store) => store.findRefreshTokenSession(hashRefreshToken(token)))
    try {
      return this.#codec.verify(token, { ignoreExpiration: true }).sid
    } catch {
      return undefined
    }
  }

}

export type { AuthEvents, UserRecord }
export type { LoginOptions, LoginResult, PasswordChangeOptions, RegisterOptions, TokenPair, VerifiedAccess, VerifyCallback }
