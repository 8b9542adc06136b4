import { type AuthConfig, getConfig, type ResolvedConfig, resolveConfig } from '../config.ts'
import { isPgDatabase, migrate } from '../db/migrate.ts'
import { isPostgresUrl, openPostgres, openSqlite } from '../db/open.ts'
import { PgAuthStore, type PgDatabase, type PgUsersTable } from '../db/pg/store.ts'
import { type SqliteDatabase, SqliteAuthStore, type SqliteUsersTable } from '../db/sqlite/store.ts'
import type { AuthStore, SessionWithUser, UserRecord } from '../db/store.ts'
import {
  AuthenticationError, AuthError, ConflictError, InvalidCurrentPasswordError, RateLimitError, ServiceUnavailableError,
  TokenExpiredError, TokenInvalidError, TokenRevokedError
} from '../errors.ts'
import { normalizeAndCheckEmail, normalizeEmail } from './email.ts'
import {
  type AuthEventListener, type AuthEventName, AuthEventEmitter, type AuthEvents, type AuthLogger, type LoginFailureReason
} from './events.ts'
import { PasswordHasher } from './passwords.ts'
import {
  type AccessClaims, AccessTokenCodec, hashRefreshToken, isRefreshTokenShape, newRefreshToken, newSessionId
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
}

export interface LoginOptions {
  ip?: string | null
  userAgent?: string | null | undefined
  /** Extra claims for the access token (the reserved ones cannot be overridden). */
  claims?: Record<string, unknown>
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

  constructor (config?: AuthConfig | ResolvedConfig) {
    this.config = config === undefined ? getConfig() : resolveConfig(config)
    this.#log = this.config.logger ?? consoleLogger
    this.#store = this.config.store ?? openStore(this.config)
    this.#codec = new AccessTokenCodec(this.config)
    this.#passwords = new PasswordHasher(this.config.bcryptRounds, this.config.passwordValidators, this.config.hashConcurrency)
    this.#events = new AuthEventEmitter(this.#log)
    this.#passwords.dummyHash().catch(() => {})
  }

  get store (): AuthStore {
    return this.#store
  }

  /** Resolves once the store can answer (on PostgreSQL: migrations applied); SQLite is ready at once. */
  async ready (): Promise<void> {
    await this.#call(this.#store.ready())
  }

  on<E extends AuthEventName>(event: E, listener: AuthEventListener<E>): () => void {
    return this.#events.on(event, listener)
  }

  /** Creates an account. Raises InvalidEmailError, InvalidPasswordError or ConflictError('email_taken'). */
  async register (email: string, password: string, fields: Record<string, unknown> = {}): Promise<AuthUser> {
    const normalized = normalizeAndCheckEmail(email)
    this.#passwords.validate(password, { email: normalized })
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
   * unusable password) costs one bcrypt comparison and raises the same AuthenticationError.
   */
  async login (email: string, password: string, options: LoginOptions = {}): Promise<LoginResult> {
    const ip = options.ip ?? null
    const normalized = normalizeEmail(String(email))
    // The attempt is counted once it holds a hashing slot, right before its comparison: parallel guesses
    // cannot slip past the limit, and logins merely waiting for a slot do not use up anyone's allowance.
    const user = await this.#passwords.withSlot(async (verify) => {
      const limits = await this.#countAttempt(normalized, ip)
      const found = await this.#call(this.#store.findUserByEmail(normalized))
      const matched = await verify(String(password), found?.passwordHash)
      if (found === undefined || !found.isActive || !matched) {
        const reason: LoginFailureReason = found === undefined ? 'not_found' : !found.isActive ? 'inactive' : 'bad_password'
        this.#events.emit('user_login_failed', { email: normalized, reason, ip })
        throw new AuthenticationError(INVALID_CREDENTIALS, 'invalid_credentials')
      }
      if (limits !== undefined) await this.#call(limits.succeeded())
      return found
    })

    const now = new Date()
    const sessionId = newSessionId()
    const refreshToken = newRefreshToken()
    await this.#call(this.#store.createSession({
      id: sessionId,
      userId: user.id,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.config.refreshTokenTtl * 1000),
      userAgent: options.userAgent ?? null,
      ip
    }, hashRefreshToken(refreshToken)))
    const authUser = toAuthUser({ ...user, lastLogin: now })
    const tokens = this.#pair(this.#codec.sign(user.id, sessionId, options.claims), refreshToken)
    this.#events.emit('user_login', { user: authUser, sessionId, ip, userAgent: options.userAgent ?? null })
    return { ...tokens, user: authUser, sessionId, tokens }
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
      this.#log.warn({ err: describe(err) }, 'fastify-drizzle-auth: logout could not complete')
    }
  }

  /** Revokes every session of the user; returns how many were live. */
  async logoutAll (userId: string): Promise<number> {
    const count = await this.#call(this.#store.revokeUserSessions(userId, 'logout_all', new Date()))
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
   * (the one the change was made from, when there is one).
   */
  async setPassword (userOrId: string | { id: string }, password: string, { keepSessionId }: { keepSessionId?: string | null } = {}): Promise<void> {
    const id = idOf(userOrId)
    const row = await this.#call(this.#store.findUserById(id))
    if (row === undefined) throw new AuthenticationError('User not found', 'user_not_found')
    this.#passwords.validate(password, { email: row.email })
    const passwordHash = await this.#passwords.hash(password)
    const now = new Date()
    await this.#call(this.#store.updateUser(id, { passwordHash }, now))
    await this.#call(this.#store.revokeUserSessions(id, 'password_changed', now, keepSessionId ?? undefined))
    this.#events.emit('password_changed', { userId: id })
  }

  /** The bundled `/password` route: the current password must match (InvalidCurrentPasswordError, 403). */
  async changePassword (user: { id: string }, currentPassword: string, newPassword: string, options: { keepSessionId?: string | null } = {}): Promise<void> {
    if (!await this.checkPassword(user, currentPassword)) throw new InvalidCurrentPasswordError()
    await this.setPassword(user, newPassword, options)
  }

  /** Blocks the account and ends its sessions: its tokens fail on the next request. */
  async deactivate (userId: string): Promise<void> {
    const now = new Date()
    await this.#call(this.#store.updateUser(userId, { isActive: false }, now))
    await this.#call(this.#store.revokeUserSessions(userId, 'deactivated', now))
  }

  async activate (userId: string): Promise<void> {
    await this.#call(this.#store.updateUser(userId, { isActive: true }, new Date()))
  }

  async getUser (id: string): Promise<AuthUser | undefined> {
    const row = await this.#call(this.#store.findUserById(id))
    return row === undefined ? undefined : toAuthUser(row)
  }

  /** Deletes expired and revoked sessions, refresh tokens used before the grace window, ended rate-limit windows. */
  async purgeExpired (): Promise<number> {
    const now = new Date()
    return this.#call(this.#store.purgeExpired(now, new Date(now.getTime() - this.config.refreshReuseGraceSeconds * 1000)))
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

  /** Counts the attempt up front (atomically), so parallel guesses cannot slip past the limit. */
  async #countAttempt (email: string, ip: string | null): Promise<{ succeeded: () => Promise<void> } | undefined> {
    const limit = this.config.loginRateLimit
    if (limit === false) return undefined
    const emailKey = `email:${email}|${ip ?? '-'}`
    const ipKey = ip === null ? undefined : `ip:${ip}`
    const keys = ipKey === undefined ? [emailKey] : [emailKey, ipKey]
    const now = Date.now()
    const counts = await this.#call(this.#store.hitLoginAttempts(keys, limit.windowSeconds * 1000, new Date(now)))
    const over = counts.filter((c) => c.count > (c.key === emailKey ? limit.maxAttemptsPerEmail : limit.maxAttemptsPerIp))
    if (over.length > 0) {
      const retryAfter = Math.max(1, Math.ceil((Math.max(...over.map((c) => c.resetAt.getTime())) - now) / 1000))
      this.#log.warn({ ip, retryAfter }, 'fastify-drizzle-auth: login rate limit exceeded')
      this.#events.emit('rate_limit_exceeded', { email, ip, retryAfter })
      throw new RateLimitError(retryAfter)
    }
    return {
      succeeded: async () => {
        await this.#store.clearLoginAttempts(emailKey)
        if (ipKey !== undefined) await this.#store.releaseLoginAttempt(ipKey)
      }
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
    this.#log.error({ err: describe(err) }, 'fastify-drizzle-auth: the store failed')
    return new ServiceUnavailableError(err)
  }
}

function openStore (config: ResolvedConfig): AuthStore {
  // resolveConfig guarantees a database whenever no store was given.
  const database = config.database!
  const migratePg = config.migrate ? (db: PgDatabase) => migrate(db) : undefined
  if (typeof database === 'string' && isPostgresUrl(database)) {
    const opened = openPostgres(database, config.postgresPool)
    return new PgAuthStore(opened.db, config.usersTable as PgUsersTable | undefined, { migrate: migratePg, onClose: opened.close })
  }
  if (isPgDatabase(database)) {
    return new PgAuthStore(database, config.usersTable as PgUsersTable | undefined, { migrate: migratePg })
  }
  const usersTable = config.usersTable as SqliteUsersTable | undefined
  if (typeof database === 'string') {
    const opened = openSqlite(database)
    try {
      if (config.migrate) migrate(opened.db)
    } catch (err) {
      void opened.close()
      throw err
    }
    return new SqliteAuthStore(opened.db, usersTable, opened.close)
  }
  if (config.migrate) migrate(database as SqliteDatabase)
  return new SqliteAuthStore(database as SqliteDatabase, usersTable)
}

function idOf (userOrId: string | { id: string }): string {
  return typeof userOrId === 'string' ? userOrId : userOrId.id
}

/**
 * The driver's own error, without Drizzle's wrapper: that one quotes the failed query's parameters,
 * which can be hashes or emails, and must never reach a log.
 */
export function describe (err: unknown): { name: string, code?: unknown, message: string } {
  let root = err
  while (root instanceof Error && root.cause instanceof Error) root = root.cause
  if (!(root instanceof Error)) return { name: typeof root, message: 'a value that is not an Error was thrown' }
  // A query error with no driver cause still quotes its parameters: keep only that it failed.
  const message = root.message.startsWith('Failed query') ? 'query failed' : root.message
  return { name: root.name, code: (root as { code?: unknown }).code, message }
}

export type { AuthEvents, UserRecord }
