/**
 * The storage contract the service is written against. One implementation per dialect; every SQL
 * statement of the project lives behind it. Each method is a single atomic unit: a check that must hold
 * for a write to happen is part of the write's own statement or transaction, never a separate read.
 * This file imports nothing: an application can implement the contract from these types alone.
 */

/** A user row as the service sees it; application tables may carry more columns. */
export interface UserRecord {
  id: string
  email: string
  passwordHash: string | null
  isActive: boolean
  isVerified: boolean
  lastLogin: Date | null
  joinedAt: Date
  createdAt: Date
  updatedAt: Date
}

export interface NewUserRecord {
  email: string
  passwordHash: string | null
  isActive?: boolean
  isVerified?: boolean
  [column: string]: unknown
}

export type UserPatch = Partial<Pick<UserRecord, 'passwordHash' | 'isActive' | 'isVerified' | 'lastLogin'>>

export interface NewSession {
  id: string
  userId: string
  createdAt: Date
  expiresAt: Date
  userAgent: string | null
  ip: string | null
}

export interface SessionState {
  id: string
  userId: string
  expiresAt: Date
  revokedAt: Date | null
}

/** A user row without its password hash, as the hot path hands it on (application columns included). */
export type PublicUserRecord = Omit<UserRecord, 'passwordHash'>

/** The hot path's answer: finished (mapped, hash-free) and immutable, so one answer may serve many requests. */
export interface FoundSession {
  readonly session: Readonly<SessionState>
  readonly user: Readonly<PublicUserRecord>
}

/** Whether the store answers the hot-path lookup synchronously (an embedded database) or with a promise. */
export type StoreMode = 'sync' | 'async'

/** `T` itself for a synchronous store, a promise of it for an asynchronous one (Drizzle's own convention). */
export type ModeResult<M extends StoreMode, T> = M extends 'sync' ? T : Promise<T>

/** The credentials a login checked: its session is created only while they are still the user's. */
export interface CheckedCredentials {
  passwordHash: string | null
}

export interface NewDeviceToken {
  tokenHash: string
  expiresAt: Date
}

/** What happened to a refresh token presented for rotation. */
export type RotationResult =
  | { outcome: 'rotated', sessionId: string, userId: string, generation: number, /** When the session ends. */ expiresAt: Date }
  | { outcome: 'unknown' }
  | {
    outcome: 'spent'
    session: SessionState
    generation: number
    /** The newest generation issued in this token's session. */
    latestGeneration: number
    usedAt: Date | null
    /** False when the session's user is inactive or gone (an unused token is then not consumed). */
    userActive: boolean
  }

export interface AttemptLimit {
  key: string
  /** Attempts allowed within the window. */
  max: number
}

export interface AttemptCount {
  key: string
  count: number
  resetAt: Date
}

export interface AttemptOutcome {
  /**
   * False when a key was already at its limit in a live window: then nothing was written and `counts` holds
   * the live counts as they stood. True when one attempt was counted against every key (`counts` after it).
   */
  counted: boolean
  counts: AttemptCount[]
}

export type ActionPurpose = 'verify_email' | 'reset_password' | 'change_email'

export interface NewActionToken {
  id: string
  tokenHash: string
  purpose: ActionPurpose
  userId: string
  /** The address the token is sent to. */
  email: string
  /** The pending new address (change_email only). */
  newEmail: string | null
  createdAt: Date
  expiresAt: Date
}

/** A live (unused, unexpired) action token as read back. */
export interface ActionTokenRecord {
  id: string
  purpose: ActionPurpose
  userId: string
  email: string
  newEmail: string | null
  expiresAt: Date
}

/** A message for the outbox: its body is already sealed (encrypted) by the service. */
export interface NewOutboxMessage {
  id: string
  payload: string
  createdAt: Date
}

export interface ClaimedOutboxMessage {
  id: string
  payload: string
  /** Delivery attempts so far, this one included. */
  attempts: number
}

/** What a consumed token changed, for the service's events and notices. */
export interface ConsumedAction {
  userId: string
  /** The address the token was sent to. */
  email: string
}

export interface EmailChangeResult extends ConsumedAction {
  oldEmail: string
  newEmail: string
}

/**
 * One-time action tokens and the mail outbox. Every method is one atomic unit: a token is consumed by one
 * conditional statement (unused and unexpired), in the same transaction as the change it authorizes, so of
 * parallel uses exactly one succeeds; a message is written in the transaction of the change it announces.
 */
export interface ActionStore {
  /**
   * Makes the user's earlier unused tokens of the same purpose void, stores the token and queues its message,
   * in one transaction. `null` does the same work on nothing (an unknown address looks like a known one).
   */
  issueActionToken (issue: { token: NewActionToken, message: NewOutboxMessage } | null, now: Date): Promise<void>
  /** The live token of this purpose with that hash, if any (read only: consuming is the write's own job). */
  findActionToken (tokenHash: string, purpose: ActionPurpose, now: Date): Promise<ActionTokenRecord | undefined>
  /** Consumes a live verify_email token sent to the user's current address and marks the user verified. */
  verifyEmail (tokenHash: string, now: Date): Promise<ConsumedAction | undefined>
  /**
   * Consumes a live reset_password token sent to the user's current address, sets the password hash, marks the
   * email verified, revokes every session and device token, voids the user's reset and change tokens and
   * queues `notice`, in one transaction.
   */
  resetPassword (tokenHash: string, passwordHash: string, notice: NewOutboxMessage, now: Date): Promise<ConsumedAction | undefined>
  /**
   * Consumes a live change_email token, moves the user to the new address (ConflictError('email_taken') when it
   * was taken meanwhile, nothing written), marks it verified, revokes the user's sessions but `keepSessionId`
   * and all its device tokens, voids every other token of the user and queues `notice`, in one transaction.
   */
  confirmEmailChange (tokenHash: string, notice: (change: EmailChangeResult) => NewOutboxMessage, now: Date, keepSessionId?: string): Promise<EmailChangeResult | undefined>
  /** Voids the user's unused tokens of these purposes; returns how many. */
  voidActionTokens (userId: string, purposes: readonly ActionPurpose[], now: Date): Promise<number>
  /**
   * Claims up to `limit` due messages for `leaseMs` (counting an attempt on each): on a shared database each
   * message is claimed by one sender at a time; a sender that dies simply lets its lease run out.
   */
  claimMessages (limit: number, leaseMs: number, now: Date): Promise<ClaimedOutboxMessage[]>
  /** A delivered (or abandoned) message goes. */
  deleteMessage (id: string): Promise<void>
  /** A failed attempt: the message waits until `availableAt`, unclaimed. */
  retryMessage (id: string, availableAt: Date, error: string): Promise<void>
}

export interface DeviceCheck {
  tokenHash: string
  userId: string
  max: number
}

export interface LoginPeek {
  /** The live counts among the keys asked (a key with no live window is left out). */
  counts: AttemptCount[]
  deviceLive: boolean
}

export interface StoreLogger {
  warn (details: object, message: string): void
}

export interface AuthStore<M extends StoreMode = StoreMode> {
  /** A name for logs and errors, e.g. 'sqlite' or 'postgresql'. */
  readonly dialect: string
  /** How `findSession` answers. */
  readonly mode: M
  /** One-time action tokens and the mail outbox. */
  readonly actions: ActionStore

  /** Resolves once the store can answer (its migrations applied); a failure is retried by the next call. */
  ready (): Promise<void>
  /** Optional: where the store tells of problems it meets in the background (a cache that stopped listening). */
  setLogger? (log: StoreLogger): void

  /** Inserts a user; a taken email raises ConflictError('email_taken') from the unique index itself. */
  createUser (values: NewUserRecord): Promise<UserRecord>
  findUserByEmail (email: string): Promise<UserRecord | undefined>
  findUserById (id: string): Promise<UserRecord | undefined>
  updateUser (id: string, patch: UserPatch, now: Date): Promise<UserRecord | undefined>

  /**
   * Inserts the session, its first refresh token (generation 0) and the device token (if any) together, and
   * stamps the user's last login, only while the user is active and still has the password hash the login
   * checked (in the same transaction, so a password change or deactivation committed meanwhile wins).
   * Returns false, writing nothing, when they are not.
   */
  createSession (session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, device?: NewDeviceToken): Promise<boolean>
  /** Replaces the user's password hash only while it is still `oldHash` (rehash at a new cost); true when replaced. */
  replacePasswordHash (userId: string, oldHash: string, newHash: string, now: Date): Promise<boolean>
  /** The hot path, run for every request with a token: one indexed lookup of the session joined with its user. */
  findSession (sessionId: string): ModeResult<M, FoundSession | undefined>
  /**
   * Optional: several lookups at once, each answer what `findSession` would give (the bearer hook gathers the
   * lookups of one event-loop turn). One read transaction on SQLite, one statement on PostgreSQL.
   */
  findSessions? (sessionIds: readonly string[]): ModeResult<M, Array<FoundSession | undefined>>
  /**
   * Consumes `oldHash` and stores `newHash` as the next generation in one transaction, and drops the
   * session's tokens older than the one consumed (a session keeps two rows: the new token and the previous).
   * Only an unused token of a live session of an active user is consumed; the statement decides, so
   * concurrent callers cannot both succeed.
   */
  rotateRefreshToken (oldHash: string, newHash: string, now: Date): Promise<RotationResult>
  /** The session a refresh token belongs to, used or not. */
  findRefreshTokenSession (tokenHash: string): Promise<string | undefined>
  /** Revokes a live session; returns its user's id, or undefined when there was no live session. */
  revokeSession (sessionId: string, reason: string, now: Date): Promise<string | undefined>
  revokeUserSessions (userId: string, reason: string, now: Date, exceptSessionId?: string): Promise<number>

  /**
   * Atomically counts one attempt against each key (a fresh window starts when the old one ended), unless
   * one of the keys is already at its limit: a refused attempt writes nothing.
   */
  hitLoginAttempts (limits: AttemptLimit[], windowMs: number, now: Date): Promise<AttemptOutcome>
  /**
   * Writes nothing: the live counts of these keys, and whether `device` is a live device token of its user
   * under `device.max` failures. A login asks before it takes a hashing place (to be refused or put in the
   * known devices' lane), and is counted once it holds one.
   */
  peekLogin (limits: AttemptLimit[], device: DeviceCheck | undefined, now: Date): Promise<LoginPeek>
  /** Forgets a key (a successful login resets its email+IP count). */
  clearLoginAttempts (key: string): Promise<void>
  /** Takes back one counted attempt (a success does not use up the IP's allowance). */
  releaseLoginAttempt (key: string): Promise<void>

  /**
   * Counts one failed login against a live device token of `userId` that is under `max` failures; false
   * (nothing written) when there is no such token. Counted before the password is compared.
   */
  hitDeviceToken (tokenHash: string, userId: string, max: number, now: Date): Promise<boolean>
  /** After a successful login with the token: its failures go back to 0. */
  resetDeviceToken (tokenHash: string, now: Date): Promise<void>
  /** After a failed one: the token is revoked once its failures reached `max`. */
  revokeDeviceTokenIfSpent (tokenHash: string, max: number, now: Date): Promise<void>
  /** Revokes every device token of the user; returns how many were live. */
  revokeDeviceTokens (userId: string, now: Date): Promise<number>

  /**
   * Deletes ended (expired or revoked) sessions with all their refresh tokens, ended device tokens and ended
   * rate-limit windows, used or expired action tokens; the used refresh tokens of a live session stay, so a replay is still recognised.
   * On a shared database one caller at a time purges (the others return 0). Returns how many rows went.
   */
  purgeExpired (now: Date): Promise<number>
  close (): Promise<void>
}

/** A store of either mode, narrowed by `mode`. */
export type AnyAuthStore = AuthStore<'sync'> | AuthStore<'async'>
