import { type AuthConfig, getConfig, type ResolvedConfig, resolveConfig } from '../config.ts'
import { openStore } from '../db/index.ts'
import type { AuthStore, SessionWithUser, UserRecord } from '../db/store.ts'
import {
  AuthenticationError, AuthError, ConflictError, describeError, InvalidCurrentPasswordError, scrubbedCause,
  ServiceUnavailableError, TokenExpiredError, TokenInvalidError, TokenRevokedError
} from '../errors.ts'
import { normalizeAndCheckEmail, normalizeEmail } from './email.ts'
import {
  type AuthEventListener, type AuthEventName, AuthEventEmitter, type AuthEvents, type AuthLogger, type LoginFailureReason
} from './events.ts'
import { AttemptLimiter } from './limits.ts'
import { type HashQueueState, PasswordHasher, type Slot } from './passwords.ts'
import {
  type AccessClaims, AccessTokenCodec, hashDeviceToken, hashRefreshToken, isRefreshTokenShape, newDeviceToken,
  newRefreshToken, newSessionId
} from './tokens.ts'
import { type AuthUser, toAuthUser } from './user.ts'

export interface TokenPair {
  accessToken: string
  refreshToken: string
  tokenType: 'bearer'
  /** Access-token lifetime in seconds. */
  expiresIn: number
}

export interface LoginResult extends TokenPair {
  user: AuthUser
  sessionId: string
  tokens: TokenPair
  /**
   * The device token to keep for this account on this device and send with its next logins: the one the
   * login presented when it was honoured, a new one otherwise.
   */
  deviceToken: string
}

export interface LoginOptions {
  ip?: string | null
  userAgent?: string | null | undefined
  /** Extra claims for the access token (the reserved ones cannot be overridden). */
  claims?: Record<string, unknown>
  /** A device token an earlier login of this account returned: exempts the login from the address and account limits. */
  deviceToken?: string | null
}

export interface RegisterOptions {
  /** The client's address: registrations are limited per address (none counted without one). */
  ip?: string | null
}

export interface PasswordChangeOptions {
  /** The session the change was made from: kept, while every other one is revoked. */
  keepSessionId?: string | null
  /** The client's address, for the attempt limits on the current password. */
  ip?: string | null
}

export interface VerifiedAccess {
  user: AuthUser
  sessionId: string
  claims: AccessClaims
}

const INVALID_CREDENTIALS = 'Invalid credentials'
const PROTECTED_USER_FIELDS = ['id', 'email', 'passwordHash', 'createdAt', 'updatedAt']

const consoleLogger: AuthLogger = {
  warn: (obj, msg) => { console.warn(msg, obj) },
  error: (obj, msg) => { console.error(msg, obj) }
}

/**
 * Registration, login, token verification and rotation, logout and password changes, with no Fastify in
 * sight: usable from a script, a worker or a test. Built from an explicit config or the global one.
 */
export class AuthService {
  readonly config: ResolvedConfig
  readonly #store: AuthStore
  readonly #codec: AccessTokenCodec
  readonly #passwords: PasswordHasher
  readonly #events: AuthEventEmitter
  readonly #log: AuthLogger
  readonly #limits: AttemptLimiter

  constructor (config?: AuthConfig | ResolvedConfig) {
    this.config = config === undefined ? getConfig() : resolveConfig(config)
    this.#log = this.config.logger ?? consoleLogger
    this.#store = this.config.store ?? openStore(this.config)
    this.#codec = new AccessTokenCodec(this.config)
    this.#passwords = new PasswordHasher(
      this.config.bcryptRounds, this.config.passwordValidators, this.config.hashConcurrency, this.config.hashQueueLimit
    )
    this.#events = new AuthEventEmitter(this.#log)
    this.#limits = new AttemptLimiter(this.#store, this.config, (operation) => this.#call(operation), (event) => {
      this.#log.warn({ action: event.action, ip: event.ip, retryAfter: event.retryAfter }, 'fastify-drizzle-auth: rate limit exceeded')
      this.#events.emit('rate_limit_exceeded', event)
    })
    this.#passwords.dummyHash().catch(() => {})
  }

  get store (): AuthStore {
    return this.#store
  }

  /** The password-hashing queue as it stands: slots in use, logins and other jobs waiting. */
  get hashQueue (): HashQueueState {
    return this.#passwords.queue
  }

  /** Resolves once the store can answer (on PostgreSQL: migrations applied); SQLite is ready at once. */
  async ready (): Promise<void> {
    await this.#call(this.#store.ready())
  }

  on<E extends AuthEventName>(event: E, listener: AuthEventListener<E>): () => void {
    return this.#events.on(event, listener)
  }

  /**
   * Creates an account. Raises InvalidEmailError, InvalidPasswordError, ConflictError('email_taken'),
   * RateLimitError (too many from `options.ip`) or BusyError (the hashing queue is full).
   */
  async register (email: string, password: string, fields: Record<string, unknown> = {}, options: RegisterOptions = {}): Promise<AuthUser> {
    const normalized = normalizeAndCheckEmail(email)
    this.#passwords.validate(password, { email: normalized })
    await this.#limits.registration(options.ip ?? null)
    const extra: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(fields)) {
      if (!PROTECTED_USER_FIELDS.includes(key)) extra[key] = value
    }
    const passwordHash = await this.#passwords.hash(password)
    const row = await this.#call(this.#store.createUser({ ...extra, email: normalized, passwordHash }))
    const user = toAuthUser(row)
    this.#events.emit('user_registered', { user })
    return user
  }

  /**
   * Checks the credentials and opens a session. Every failure (unknown email, inactive account, wrong or
   * unusable password, credentials changed while it was checking) costs one bcrypt comparison and raises the
   * same AuthenticationError.
   */
  async login (email: string, password: string, options: LoginOptions = {}): Promise<LoginResult> {
    const ip = options.ip ?? null
    const normalized = normalizeEmail(String(email))
    const presented = isRefreshTokenShape(options.deviceToken) ? options.deviceToken : undefined
    // The attempt is counted once it holds a hashing slot, right before its comparison: parallel guesses
    // cannot slip past the limit, and logins merely waiting for a slot do not use up anyone's allowance.
    const checked = await this.#passwords.withSlot('login', async (slot) => {
      const found = await this.#call(this.#store.findUserByEmail(normalized))
      const device = presented === undefined || found === undefined ? undefined : { tokenHash: hashDeviceToken(presented), userId: found.id }
      const attempt = await this.#limits.password('login', normalized, ip, device)
      const matched = await slot.verify(String(password), found?.passwordHash)
      if (found === undefined || !found.isActive || !matched) {
        await attempt.failed()
        const reason: LoginFailureReason = found === undefined ? 'not_found' : !found.isActive ? 'inactive' : 'bad_password'
        this.#events.emit('user_login_failed', { email: normalized, reason, ip })
        throw new AuthenticationError(INVALID_CREDENTIALS, 'invalid_credentials')
      }
      await attempt.succeeded()
      // A match implies a stored hash.
      const passwordHash = await this.#rehash(found.id, found.passwordHash!, String(password), slot)
      return { user: found, passwordHash, onDevice: attempt.onDevice }
    })

    const { user } = checked
    const now = new Date()
    const sessionId = newSessionId()
    const refreshToken = newRefreshToken()
    const deviceToken = checked.onDevice ? presented! : newDeviceToken()
    const created = await this.#call(this.#store.createSession({
      id: sessionId,
      userId: user.id,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.config.refreshTokenTtl * 1000),
      userAgent: options.userAgent ?? null,
      ip
    }, hashRefreshToken(refreshToken), { passwordHash: checked.passwordHash }, checked.onDevice
      ? undefined
      : { tokenHash: hashDeviceToken(deviceToken), expiresAt: new Date(now.getTime() + this.config.deviceTokenTtl * 1000) }))
    if (!created) {
      // A password change or deactivation committed while the password was being compared: it wins.
      this.#events.emit('user_login_failed', { email: normalized, reason: 'credentials_changed', ip })
      throw new AuthenticationError(INVALID_CREDENTIALS, 'invalid_credentials')
    }
    const authUser = toAuthUser({ ...user, lastLogin: now })
    const tokens = this.#pair(this.#codec.sign(user.id, sessionId, options.claims), refreshToken)
    this.#events.emit('user_login', { user: authUser, sessionId, ip, userAgent: options.userAgent ?? null })
    return { ...tokens, user: authUser, sessionId, tokens, deviceToken }
  }

  /**
   * A hash made at another cost is replaced by one at the configured cost (only if it is still the stored
   * one), so existing accounts answer in the same time as unknown emails after `bcryptRounds` changes.
   * Returns the hash the user now has.
   */
  async #rehash (userId: string, current: string, password: string, slot: Slot): Promise<string> {
    if (!this.#passwords.needsRehash(current)) return current
    const next = await slot.hash(password)
    return await this.#call(this.#store.replacePasswordHash(userId, current, next, new Date())) ? next : current
  }

  /** The user an access token belongs to. Raises a TokenError subclass, AuthenticationError or ServiceUnavailableError. */
  async authenticate (accessToken: string): Promise<AuthUser> {
    return (await this.verifyAccessToken(accessToken)).user
  }

  /** Verifies the token, then one indexed lookup: the session is live and its user active. */
  async verifyAccessToken (accessToken: string): Promise<VerifiedAccess> {
    return this.checkAccessToken(accessToken)
  }

  /**
   * `verifyAccessToken` for the bearer hook, which runs on every request: the answer is synchronous when the
   * store can look the session up synchronously (SQLite), so no promise is made; otherwise a promise.
   * Failures are thrown (or rejected) as by `verifyAccessToken`.
   */
  checkAccessToken (accessToken: string): VerifiedAccess | Promise<VerifiedAccess> {
    const claims = this.#codec.verify(accessToken)
    const store = this.#store
    if (store.findSessionSync === undefined) {
      return this.#call(store.findSession(claims.sid)).then((found) => this.#accept(claims, found))
    }
    let found: SessionWithUser | undefined
    try {
      found = store.findSessionSync(claims.sid)
    } catch (err) {
      throw this.#unavailable(err)
    }
    return this.#accept(claims, found)
  }

  #accept (claims: AccessClaims, found: SessionWithUser | undefined): VerifiedAccess {
    if (found === undefined || found.session.userId !== claims.sub) throw new TokenInvalidError()
    if (found.session.revokedAt !== null) throw new TokenRevokedError()
    if (found.session.expiresAt.getTime() <= Date.now()) throw new TokenExpiredError('Session has expired')
    if (!found.user.isActive) throw new AuthenticationError('Account is inactive', 'inactive_account')
    return { user: toAuthUser(found.user), sessionId: claims.sid, claims }
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
    const result = await this.#call(this.#store.rotateRefreshToken(hashRefreshToken(refreshToken), hashRefreshToken(next), now))
    if (result.outcome === 'rotated') {
      return this.#pair(this.#codec.sign(result.userId, result.sessionId), next)
    }
    if (result.outcome === 'unknown') throw new TokenInvalidError('Refresh token is invalid')
    const { session } = result
    if (session.revokedAt !== null) throw new TokenRevokedError()
    if (session.expiresAt.getTime() <= now.getTime()) throw new TokenExpiredError('Session has expired')
    if (!result.userActive && result.usedAt === null) throw new TokenRevokedError('The account is inactive')
    const graceMs = this.config.refreshReuseGraceSeconds * 1000
    if (graceMs > 0 && result.generation === result.latestGeneration - 1 && result.usedAt !== null &&
      now.getTime() - result.usedAt.getTime() <= graceMs) {
      throw new ConflictError('This refresh token was just rotated by another request', 'refresh_in_progress')
    }
    await this.#call(this.#store.revokeSession(session.id, 'refresh_token_reused', now))
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
      const now = new Date()
      const found = await this.#call(this.#store.findSession(sessionId))
      if (await this.#call(this.#store.revokeSession(sessionId, 'logout', now)) && found !== undefined) {
        this.#events.emit('user_logout', { userId: found.session.userId, sessionId })
      }
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'fastify-drizzle-auth: logout could not complete')
    }
  }

  /** Revokes every session and every device token of the user; returns how many sessions were live. */
  async logoutAll (userId: string): Promise<number> {
    const now = new Date()
    const count = await this.#call(this.#store.revokeUserSessions(userId, 'logout_all', now))
    await this.#call(this.#store.revokeDeviceTokens(userId, now))
    this.#events.emit('user_logout', { userId, sessionId: null })
    return count
  }

  /** Checks a password against the user's hash (one bcrypt comparison, also when there is no hash). */
  async checkPassword (userOrId: string | { id: string }, password: string): Promise<boolean> {
    const row = await this.#call(this.#store.findUserById(idOf(userOrId)))
    return this.#passwords.verify(String(password), row?.passwordHash)
  }

  /**
   * Validates and stores a new password, then revokes every session of the user but `keepSessionId`
   * (the one the change was made from, when there is one) and every device token.
   */
  async setPassword (userOrId: string | { id: string }, password: string, { keepSessionId }: PasswordChangeOptions = {}): Promise<void> {
    const id = idOf(userOrId)
    const row = await this.#call(this.#store.findUserById(id))
    if (row === undefined) throw new AuthenticationError('User not found', 'user_not_found')
    this.#passwords.validate(password, { email: row.email })
    const passwordHash = await this.#passwords.hash(password)
    const now = new Date()
    await this.#call(this.#store.updateUser(id, { passwordHash }, now))
    await this.#call(this.#store.revokeUserSessions(id, 'password_changed', now, keepSessionId ?? undefined))
    await this.#call(this.#store.revokeDeviceTokens(id, now))
    this.#events.emit('password_changed', { userId: id })
  }

  /**
   * The bundled `/password` route: the current password must match (InvalidCurrentPasswordError, 403). Wrong
   * ones are counted like failed logins of the account (RateLimitError, 429, past the limits).
   */
  async changePassword (user: { id: string }, currentPassword: string, newPassword: string, options: PasswordChangeOptions = {}): Promise<void> {
    const row = await this.#call(this.#store.findUserById(user.id))
    if (row === undefined) throw new AuthenticationError('User not found', 'user_not_found')
    const matched = await this.#passwords.withSlot('other', async (slot) => {
      const attempt = await this.#limits.password('password_change', row.email, options.ip ?? null)
      const ok = await slot.verify(String(currentPassword), row.passwordHash)
      if (ok) await attempt.succeeded()
      return ok
    })
    if (!matched) throw new InvalidCurrentPasswordError()
    await this.setPassword(user, newPassword, options)
  }

  /** Blocks the account and ends its sessions and device tokens: its tokens fail on the next request. */
  async deactivate (userId: string): Promise<void> {
    const now = new Date()
    await this.#call(this.#store.updateUser(userId, { isActive: false }, now))
    await this.#call(this.#store.revokeUserSessions(userId, 'deactivated', now))
    await this.#call(this.#store.revokeDeviceTokens(userId, now))
  }

  async activate (userId: string): Promise<void> {
    await this.#call(this.#store.updateUser(userId, { isActive: true }, new Date()))
  }

  async getUser (id: string): Promise<AuthUser | undefined> {
    const row = await this.#call(this.#store.findUserById(id))
    return row === undefined ? undefined : toAuthUser(row)
  }

  /**
   * Deletes ended sessions with their refresh tokens, ended device tokens and ended rate-limit windows. The
   * used refresh tokens of a live session are kept: a replay is recognised as long as the session lives.
   */
  async purgeExpired (): Promise<number> {
    const count = await this.#call(this.#store.purgeExpired(new Date()))
    this.#events.emit('expired_purged', { count })
    return count
  }

  async close (): Promise<void> {
    await this.#store.close()
  }

  async #sessionOf (token: string): Promise<string | undefined> {
    if (isRefreshTokenShape(token)) return this.#call(this.#store.findRefreshTokenSession(hashRefreshToken(token)))
    try {
      return this.#codec.verify(token, { ignoreExpiration: true }).sid
    } catch {
      return undefined
    }
  }

  #pair (accessToken: string, refreshToken: string): TokenPair {
    return { accessToken, refreshToken, tokenType: 'bearer', expiresIn: this.#codec.ttl }
  }

  /** Store failures become ServiceUnavailableError (503): never an answer about the token or the password. */
  async #call<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation
    } catch (err) {
      throw this.#unavailable(err)
    }
  }

  #unavailable (err: unknown): AuthError {
    if (err instanceof AuthError) return err
    this.#log.error({ err: describeError(err) }, 'fastify-drizzle-auth: the store failed')
    return new ServiceUnavailableError(scrubbedCause(err))
  }
}

function idOf (userOrId: string | { id: string }): string {
  return typeof userOrId === 'string' ? userOrId : userOrId.id
}

export type { AuthEvents, UserRecord }
