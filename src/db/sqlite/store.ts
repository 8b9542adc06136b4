import type Database from 'better-sqlite3'
import { and, eq, isNull, lte, ne, or, sql } from 'drizzle-orm'
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import type {
  AttemptCount, AttemptLimit, DeviceCheck, LoginPeek, AttemptOutcome, AuthStore, CheckedCredentials, FoundSession, NewDeviceToken, NewSession,
  NewUserRecord, RotationResult, UserPatch, UserRecord
} from '../store.ts'
import { userInsertRefusal } from '../constraint-violation.ts'
import { SqliteActionStore } from './actions.ts'
import { actionTokens, type authUserColumns, deviceTokens, loginAttempts, refreshTokens, sessions, users } from './schema.ts'
import { compileSessionLookup, type SessionLookup } from './session-lookup.ts'
import { type PreparedStatements, prepareStatements } from './statements.ts'

export type SqliteDatabase = BetterSQLite3Database<Record<string, unknown>>

/** Any SQLite table that carries the columns of `authUserColumns()` (and possibly more). */
export type SqliteUsersTable = SQLiteTable & { [K in keyof ReturnType<typeof authUserColumns>]: SQLiteColumn }

/**
 * The store on better-sqlite3. Synchronous underneath: every method's work is done before it returns (the
 * hot-path lookup answers without a promise), and atomicity comes from single statements or synchronous
 * BEGIN IMMEDIATE transactions, never from a transaction held across an await.
 */
export class SqliteAuthStore implements AuthStore<'sync'> {
  readonly dialect = 'sqlite'
  readonly mode = 'sync'
  readonly actions: SqliteActionStore
  readonly #db: SqliteDatabase
  readonly #users: typeof users
  readonly #onClose: (() => void | Promise<void>) | undefined
  readonly #findSession: SessionLookup
  readonly #q: PreparedStatements
  readonly #createSession: Database.Transaction<(session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, device?: NewDeviceToken) => boolean>
  readonly #rotate: Database.Transaction<(oldHash: string, newHash: string, now: Date) => RotationResult>
  readonly #hit: Database.Transaction<(limits: AttemptLimit[], windowMs: number, now: Date) => AttemptOutcome>

  constructor (db: SqliteDatabase, usersTable: SqliteUsersTable = users, onClose?: () => void | Promise<void>) {
    this.#db = db
    // The custom table has at least these columns; Drizzle's types cannot express "at least", so narrow once here.
    this.#users = usersTable as unknown as typeof users
    this.#onClose = onClose
    this.actions = new SqliteActionStore(db, this.#users)
    const client = (db as unknown as { $client: Database.Database }).$client
    this.#findSession = compileSessionLookup(db, client, this.#users)
    const q = this.#q = prepareStatements(db, this.#users)
    // Transactions are made once too; each runs as BEGIN IMMEDIATE, so concurrent writers queue on the lock.

    this.#createSession = client.transaction((session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, device?: NewDeviceToken) => {
      const stamped = q.stampLastLogin.run({ nowMs: session.createdAt.getTime(), userId: session.userId, passwordHash: credentials.passwordHash })
      if (stamped.changes !== 1) return false
      q.insertSession.run({ ...session })
      q.insertRefreshToken.run({ tokenHash: refreshTokenHash, sessionId: session.id, generation: 0, createdAt: session.createdAt })
      if (device !== undefined) {
        q.insertDeviceToken.run({ ...device, userId: session.userId, createdAt: session.createdAt })
      }
      return true
    })

    this.#rotate = client.transaction((oldHash: string, newHash: string, now: Date): RotationResult => {
      const consumed = q.consumeRefreshToken.get({ tokenHash: oldHash, nowMs: now.getTime() })
      if (consumed !== undefined) {
        const generation = consumed.generation + 1
        q.insertRefreshToken.run({ tokenHash: newHash, sessionId: consumed.sessionId, generation, createdAt: now })
        q.dropOlderRefreshTokens.run({ sessionId: consumed.sessionId, generation: consumed.generation })
        const session = q.touchSession.get({ nowMs: now.getTime(), sessionId: consumed.sessionId })
        return { outcome: 'rotated', sessionId: consumed.sessionId, userId: session!.userId, generation, expiresAt: session!.expiresAt }
      }
      const spent = q.spentRefreshToken.get({ tokenHash: oldHash })
      if (spent === undefined) return { outcome: 'unknown' }
      // An aggregate always yields one row, and this session holds at least the spent token.
      const latest = q.latestGeneration.get({ sessionId: spent.session.id })!
      const { userActive, ...rest } = spent
      return { outcome: 'spent', ...rest, latestGeneration: latest.generation, userActive: userActive === 1 }
    })

    this.#hit = client.transaction((limits: AttemptLimit[], windowMs: number, now: Date): AttemptOutcome => {
      const nowMs = now.getTime()
      const live: AttemptCount[] = []
      let full = false
      for (const { key, max } of limits) {
        const row = q.liveAttempts.get({ key, nowMs })
        if (row === undefined) continue
        live.push({ key, count: row.count, resetAt: row.resetAt })
        if (row.count >= max) full = true
      }
      if (full) return { counted: false, counts: live }
      const resetAt = new Date(nowMs + windowMs)
      return {
        counted: true,
        counts: limits.map(({ key }): AttemptCount => {
          const row = q.hitLoginAttempt.get({ key, resetAt, nowMs, resetAtMs: resetAt.getTime() })!
          return { key, count: row.count, resetAt: row.resetAt }
        })
      }
    })
  }

  async ready (): Promise<void> {}

  async createUser (values: NewUserRecord): Promise<UserRecord> {
    try {
      return this.#db.insert(this.#users).values(values as typeof users.$inferInsert).returning().get()
    } catch (err) {
      throw userInsertRefusal(err) ?? err
    }
  }

  async findUserByEmail (email: string): Promise<UserRecord | undefined> {
    return this.#q.userByEmail.get({ email })
  }

  async findUserById (id: string): Promise<UserRecord | undefined> {
    return this.#q.userById.get({ id })
  }

  async updateUser (id: string, patch: UserPatch, now: Date): Promise<UserRecord | undefined> {
    return this.#db.update(this.#users).set({ ...patch, updatedAt: now })
      .where(eq(this.#users.id, id)).returning().get()
  }

  async createSession (session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, device?: NewDeviceToken): Promise<boolean> {
    return this.#createSession.immediate(session, refreshTokenHash, credentials, device)
  }

  async replacePasswordHash (userId: string, oldHash: string, newHash: string, now: Date): Promise<boolean> {
    return this.#q.replacePasswordHash.run({ userId, oldHash, newHash, nowMs: now.getTime() }).changes > 0
  }

  findSession (sessionId: string): FoundSession | undefined {
    return this.#findSession(sessionId)
  }

  findSessions (sessionIds: readonly string[]): Array<FoundSession | undefined> {
    // A subclass with a findSession of its own is asked through it, one by one.
    if (this.findSession !== SqliteAuthStore.prototype.findSession) return sessionIds.map((id) => this.findSession(id))
    return this.#findSession.many(sessionIds)
  }

  /** Read transactions shared by several lookups (`findSessions`) so far. */
  get sharedReads (): number {
    return this.#findSession.batches
  }

  /** How many session lookups are remembered now. */
  get rememberedSessions (): number {
    return this.#findSession.size
  }

  /** Session lookups answered from memory (`hits`) and from the database (`misses`) so far. */
  get lookupStats (): { hits: number, misses: number } {
    return this.#findSession.stats
  }

  async rotateRefreshToken (oldHash: string, newHash: string, now: Date): Promise<RotationResult> {
    return this.#rotate.immediate(oldHash, newHash, now)
  }

  async findRefreshTokenSession (tokenHash: string): Promise<string | undefined> {
    return this.#q.refreshTokenSession.get({ tokenHash })?.sessionId
  }

  async revokeSession (sessionId: string, reason: string, now: Date): Promise<string | undefined> {
    return this.#q.revokeSession.get({ sessionId, reason, nowMs: now.getTime() })?.userId
  }

  async revokeUserSessions (userId: string, reason: string, now: Date, exceptSessionId?: string): Promise<number> {
    const result = this.#db.update(sessions).set({ revokedAt: now, revokeReason: reason })
      .where(and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        exceptSessionId === undefined ? undefined : ne(sessions.id, exceptSessionId)
      )).run()
    return result.changes
  }

  async hitLoginAttempts (limits: AttemptLimit[], windowMs: number, now: Date): Promise<AttemptOutcome> {
    return this.#hit.immediate(limits, windowMs, now)
  }

  async clearLoginAttempts (key: string): Promise<void> {
    this.#q.clearLoginAttempts.run({ key })
  }

  async releaseLoginAttempt (key: string): Promise<void> {
    this.#q.releaseLoginAttempt.run({ key })
  }

  async peekLogin (limits: AttemptLimit[], device: DeviceCheck | undefined, now: Date): Promise<LoginPeek> {
    const nowMs = now.getTime()
    const counts: AttemptCount[] = []
    for (const { key } of limits) {
      const row = this.#q.liveAttempts.get({ key, nowMs })
      if (row !== undefined) counts.push({ key, count: row.count, resetAt: row.resetAt })
    }
    const deviceLive = device !== undefined && this.#q.liveDeviceToken.get({ ...device, nowMs }) !== undefined
    return { counts, deviceLive }
  }

  async hitDeviceToken (tokenHash: string, userId: string, max: number, now: Date): Promise<boolean> {
    return this.#q.hitDeviceToken.run({ tokenHash, userId, max, nowMs: now.getTime() }).changes > 0
  }

  async resetDeviceToken (tokenHash: string, now: Date): Promise<void> {
    this.#q.resetDeviceToken.run({ tokenHash, nowMs: now.getTime() })
  }

  async revokeDeviceTokenIfSpent (tokenHash: string, max: number, now: Date): Promise<void> {
    this.#q.revokeSpentDeviceToken.run({ tokenHash, max, nowMs: now.getTime() })
  }

  async revokeDeviceTokens (userId: string, now: Date): Promise<number> {
    return this.#db.update(deviceTokens).set({ revokedAt: now })
      .where(and(eq(deviceTokens.userId, userId), isNull(deviceTokens.revokedAt))).run().changes
  }

  async purgeExpired (now: Date): Promise<number> {
    return this.#db.transaction((tx) => {
      // Tokens first: counting them separately keeps the total honest (the cascade would hide them).
      const deadSessions = or(lte(sessions.expiresAt, now), sql`${sessions.revokedAt} is not null`)
      const tokens = tx.delete(refreshTokens)
        .where(sql`${refreshTokens.sessionId} in (select ${sessions.id} from ${sessions} where ${deadSessions})`).run().changes
      const dead = tx.delete(sessions).where(deadSessions).run().changes
      const devices = tx.delete(deviceTokens)
        .where(or(lte(deviceTokens.expiresAt, now), sql`${deviceTokens.revokedAt} is not null`)).run().changes
      const counters = tx.delete(loginAttempts).where(lte(loginAttempts.resetAt, now)).run().changes
      const actions = tx.delete(actionTokens).where(or(lte(actionTokens.expiresAt, now), sql`${actionTokens.usedAt} is not null`)).run().changes
      return tokens + dead + devices + counters + actions
    }, { behavior: 'immediate' })
  }

  async close (): Promise<void> {
    await this.#onClose?.()
  }
}
