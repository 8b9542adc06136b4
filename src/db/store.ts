/**
 * The storage contract the service is written against. One implementation per dialect; every SQL
 * statement of the project lives behind it. Each method is a single atomic unit: a check that must hold
 * for a write to happen is part of the write's own statement or transaction, never a separate read.
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

export interface SessionWithUser {
  session: SessionState
  user: UserRecord
}

/** What happened to a refresh token presented for rotation. */
export type RotationResult =
  | { outcome: 'rotated', sessionId: string, userId: string, generation: number }
  | { outcome: 'unknown' }
  | {
    outcome: 'spent'
    session: SessionState
    generation: number
    /** The newest generation issued in this token's session. */
    latestGeneration: number
    usedAt: Date | null
  }

export interface AttemptCount {
  key: string
  count: number
  resetAt: Date
}

export interface AuthStore {
  readonly dialect: 'sqlite' | 'postgresql'

  /** Resolves once the store can answer (its migrations applied); a failure is retried by the next call. */
  ready (): Promise<void>

  /** Inserts a user; a taken email raises ConflictError('email_taken') from the unique index itself. */
  createUser (values: NewUserRecord): Promise<UserRecord>
  findUserByEmail (email: string): Promise<UserRecord | undefined>
  findUserById (id: string): Promise<UserRecord | undefined>
  updateUser (id: string, patch: UserPatch, now: Date): Promise<UserRecord | undefined>

  /** Inserts the session and its first refresh token (generation 0) together, and stamps the user's last login. */
  createSession (session: NewSession, refreshTokenHash: string): Promise<void>
  /** The hot path: one indexed lookup of the session joined with its user. */
  findSession (sessionId: string): Promise<SessionWithUser | undefined>
  /** Optional: the same lookup answered synchronously (an embedded database), so the bearer hook needs no promise. */
  findSessionSync? (sessionId: string): SessionWithUser | undefined
  /**
   * Consumes `oldHash` and stores `newHash` as the next generation in one transaction. Only an unused token
   * of a live session is consumed; the statement decides, so concurrent callers cannot both succeed.
   */
  rotateRefreshToken (oldHash: string, newHash: string, now: Date): Promise<RotationResult>
  /** The session a refresh token belongs to, used or not. */
  findRefreshTokenSession (tokenHash: string): Promise<string | undefined>
  revokeSession (sessionId: string, reason: string, now: Date): Promise<boolean>
  revokeUserSessions (userId: string, reason: string, now: Date, exceptSessionId?: string): Promise<number>

  /** Atomically counts one attempt against each key (a fresh window starts when the old one ended). */
  hitLoginAttempts (keys: string[], windowMs: number, now: Date): Promise<AttemptCount[]>
  /** Forgets a key (a successful login resets its email+IP count). */
  clearLoginAttempts (key: string): Promise<void>
  /** Takes back one counted attempt (a success does not use up the IP's allowance). */
  releaseLoginAttempt (key: string): Promise<void>

  /**
   * Deletes expired or revoked sessions (with their tokens), refresh tokens used before `usedBefore`
   * and ended rate-limit windows; returns how many rows went.
   */
  purgeExpired (now: Date, usedBefore: Date): Promise<number>
  close (): Promise<void>
}
