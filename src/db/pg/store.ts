import { and, eq, gt, gte, inArray, isNull, lt, lte, ne, or, sql } from 'drizzle-orm'
import type { NodePgDatabase } from 'drizzle-orm/node-postgres'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import type {
  AttemptCount, AttemptLimit, AttemptOutcome, DeviceCheck, LoginPeek, AuthStore, CheckedCredentials, FoundSession, NewDeviceToken, NewSession,
  NewUserRecord, RotationResult, StoreLogger, UserPatch, UserRecord
} from '../store.ts'
import { userInsertRefusal } from '../constraint-violation.ts'
import { poolTransactions, type PgTransactionRunner } from './pool-clients.ts'
import { PgActionStore } from './actions.ts'
import { compilePgSessionLookup, type PgSessionLookup } from './session-lookup.ts'
import { type PgSessionCache, type PgSessionCacheOptions, sessionCacheFor } from './session-cache.ts'
import { actionTokens, type authUserColumns, deviceTokens, loginAttempts, refreshTokens, sessions, users } from './schema.ts'

export type PgDatabase = NodePgDatabase<Record<string, unknown>>

/** Any PostgreSQL table that carries the columns of `authUserColumns()` (and possibly more). */
export type PgUsersTable = PgTable & { [K in keyof ReturnType<typeof authUserColumns>]: PgColumn }

// One purge at a time across every instance on the database (a transaction-level advisory lock).
const PURGE_LOCK = sql`select pg_try_advisory_xact_lock(hashtext('fastify-drizzle-auth:purge')) as locked`

export interface PgAuthStoreOptions {
  /** Applies the plugin's migrations before the first query (retried on the next call if it fails). */
  migrate?: (db: PgDatabase) => Promise<void>
  /** Ends the pool the store was given, when the store owns it. */
  onClose?: () => Promise<void>
  /** Remember session lookups, forgotten on LISTEN/NOTIFY (session-cache.ts); off by default. */
  sessionCache?: PgSessionCacheOptions
}

/**
 * The store on PostgreSQL (node-postgres). Same contract as the SQLite store: every guarded write is one
 * conditional statement, and rotation runs in one transaction, so READ COMMITTED's re-check of the WHERE
 * clause after a concurrent update decides which caller wins.
 */
export class PgAuthStore implements AuthStore<'async'> {
  readonly dialect = 'postgresql'
  readonly mode = 'async'
  readonly actions: PgActionStore
  readonly #db: PgDatabase
  readonly #transaction: PgTransactionRunner
  readonly #users: typeof users
  readonly #options: PgAuthStoreOptions
  #ready: Promise<void> | undefined
  readonly #lookup: PgSessionLookup
  /** The opt-in memory of session lookups (`sessionCache`), if on. */
  readonly sessionCache: PgSessionCache | undefined

  constructor (db: PgDatabase, usersTable: PgUsersTable = users, options: PgAuthStoreOptions = {}) {
    this.#db = db
    this.#transaction = poolTransactions(db)
    this.#users = usersTable as unknown as typeof users
    this.#options = options
    this.actions = new PgActionStore(db, this.#transaction, this.#users, () => this.ready())
    this.#lookup = compilePgSessionLookup(db, this.#users)
    this.sessionCache = options.sessionCache === undefined ? undefined : sessionCacheFor(db, { sessions, users: this.#users }, options.sessionCache)
  }

  setLogger (log: StoreLogger): void {
    this.sessionCache?.onWarning((details, message) => { log.warn(details, message) })
  }

  ready (): Promise<void> {
    // A failed start (database down) is retried by the next call, so the service recovers without a restart.
    this.#ready ??= this.#prepare().catch((err: unknown) => { this.#ready = undefined; throw err })
    return this.#ready
  }

  async #prepare (): Promise<void> {
    await this.#options.migrate?.(this.#db)
    await this.sessionCache?.start() // never fails: a cache that cannot listen stays off and tries again
  }

  async createUser (values: NewUserRecord): Promise<UserRecord> {
    await this.ready()
    try {
      const [row] = await this.#db.insert(this.#users).values(values as typeof users.$inferInsert).returning()
      return row
    } catch (err) {
      throw userInsertRefusal(err) ?? err
    }
  }

  async findUserByEmail (email: string): Promise<UserRecord | undefined> {
    await this.ready()
    const [row] = await this.#db.select().from(this.#users).where(eq(this.#users.email, email))
    return row
  }

  async findUserById (id: string): Promise<UserRecord | undefined> {
    await this.ready()
    const [row] = await this.#db.select().from(this.#users).where(eq(this.#users.id, id))
    return row
  }

  async updateUser (id: string, patch: UserPatch, now: Date): Promise<UserRecord | undefined> {
    await this.ready()
    const [row] = await this.#db.update(this.#users).set({ ...patch, updatedAt: now }).where(eq(this.#users.id, id)).returning()
    return row
  }

  async createSession (session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, device?: NewDeviceToken): Promise<boolean> {
    await this.ready()
    const users = this.#users
    return this.#transaction(async (tx) => {
      // One conditional statement checks and locks the user row: a password change or deactivation committed
      // before it is seen (the WHERE is re-checked on the newest row), one in flight waits for this transaction
      // and then revokes the session it made.
      const stamped = await tx.update(users).set({ lastLogin: session.createdAt }).where(and(
        eq(users.id, session.userId),
        sql`${users.passwordHash} is not distinct from ${credentials.passwordHash}`,
        eq(users.isActive, true)
      ))
      if (stamped.rowCount !== 1) return false
      await tx.insert(sessions).values({ ...session, lastUsedAt: session.createdAt })
      await tx.insert(refreshTokens).values({
        tokenHash: refreshTokenHash, sessionId: session.id, generation: 0, createdAt: session.createdAt
      })
      if (device !== undefined) {
        await tx.insert(deviceTokens).values({ ...device, userId: session.userId, createdAt: session.createdAt, lastUsedAt: session.createdAt })
      }
      return true
    })
  }

  async replacePasswordHash (userId: string, oldHash: string, newHash: string, now: Date): Promise<boolean> {
    await this.ready()
    const result = await this.#db.update(this.#users).set({ passwordHash: newHash, updatedAt: now })
      .where(and(eq(this.#users.id, userId), eq(this.#users.passwordHash, oldHash)))
    return Number(result.rowCount) > 0
  }

  /** With `sessionCache`: lookups answered from memory (`hits`) and from the database (`misses`) so far. */
  get lookupStats (): { hits: number, misses: number } | undefined {
    return this.sessionCache?.stats
  }

  async findSession (sessionId: string): Promise<FoundSession | undefined> {
    await this.ready()
    return this.sessionCache === undefined ? this.#lookup.one(sessionId) : this.sessionCache.lookup(sessionId, this.#lookup.one)
  }

  async findSessions (sessionIds: readonly string[]): Promise<Array<FoundSession | undefined>> {
    // A subclass with a findSession of its own is asked through it, one by one.
    if (this.findSession !== PgAuthStore.prototype.findSession) return Promise.all(sessionIds.map(async (id) => this.findSession(id)))
    await this.ready()
    return this.sessionCache === undefined ? this.#lookup.many(sessionIds) : this.sessionCache.lookupMany(sessionIds, this.#lookup.many)
  }

  async rotateRefreshToken (oldHash: string, newHash: string, now: Date): Promise<RotationResult> {
    await this.ready()
    return this.#transaction(async (tx): Promise<RotationResult> => {
      const [consumed] = await tx.update(refreshTokens)
        .set({ usedAt: now })
        .where(and(
          eq(refreshTokens.tokenHash, oldHash),
          isNull(refreshTokens.usedAt),
          sql`exists (select 1 from ${sessions} join ${this.#users} on ${this.#users.id} = ${sessions.userId}
            where ${sessions.id} = ${refreshTokens.sessionId} and ${sessions.revokedAt} is null
            and ${sessions.expiresAt} > ${now.toISOString()} and ${this.#users.isActive})`
        ))
        .returning({ sessionId: refreshTokens.sessionId, generation: refreshTokens.generation })
      if (consumed !== undefined) {
        const generation = consumed.generation + 1
        await tx.insert(refreshTokens).values({ tokenHash: newHash, sessionId: consumed.sessionId, generation, createdAt: now })
        // Rows per session stay at two: the new token and the one just used (for the grace window's answer).
        await tx.delete(refreshTokens).where(and(eq(refreshTokens.sessionId, consumed.sessionId), lt(refreshTokens.generation, consumed.generation)))
        const [session] = await tx.update(sessions).set({ lastUsedAt: now })
          .where(eq(sessions.id, consumed.sessionId)).returning({ userId: sessions.userId, expiresAt: sessions.expiresAt })
        return { outcome: 'rotated', sessionId: consumed.sessionId, userId: session.userId, generation, expiresAt: session.expiresAt }
      }
      const [spent] = await tx.select({
        generation: refreshTokens.generation,
        usedAt: refreshTokens.usedAt,
        session: { id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt },
        userActive: this.#users.isActive
      }).from(refreshTokens)
        .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
        .leftJoin(this.#users, eq(this.#users.id, sessions.userId))
        .where(eq(refreshTokens.tokenHash, oldHash))
      if (spent === undefined) return { outcome: 'unknown' }
      // An aggregate always yields one row, and this session holds at least the spent token.
      const [latest] = await tx.select({ generation: sql<number>`max(${refreshTokens.generation})` }).from(refreshTokens)
        .where(eq(refreshTokens.sessionId, spent.session.id))
      return { outcome: 'spent', ...spent, latestGeneration: latest.generation, userActive: spent.userActive === true }
    })
  }

  async findRefreshTokenSession (tokenHash: string): Promise<string | undefined> {
    await this.ready()
    const [row] = await this.#db.select({ sessionId: refreshTokens.sessionId }).from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, tokenHash))
    return row?.sessionId
  }

  async revokeSession (sessionId: string, reason: string, now: Date): Promise<string | undefined> {
    await this.ready()
    const [row] = await this.#db.update(sessions).set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))).returning({ userId: sessions.userId })
    return row?.userId
  }

  async revokeUserSessions (userId: string, reason: string, now: Date, exceptSessionId?: string): Promise<number> {
    await this.ready()
    const result = await this.#db.update(sessions).set({ revokedAt: now, revokeReason: reason })
      .where(and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        exceptSessionId === undefined ? undefined : ne(sessions.id, exceptSessionId)
      ))
    return Number(result.rowCount)
  }

  async hitLoginAttempts (limits: AttemptLimit[], windowMs: number, now: Date): Promise<AttemptOutcome> {
    await this.ready()
    const resetAt = new Date(now.getTime() + windowMs)
    const stamp = now.toISOString()
    const keys = limits.map((limit) => limit.key)
    return this.#transaction(async (tx): Promise<AttemptOutcome> => {
      const live = await tx.select().from(loginAttempts)
        .where(and(inArray(loginAttempts.key, keys), sql`${loginAttempts.resetAt} > ${stamp}`))
      if (live.some((row) => row.count >= limits.find((limit) => limit.key === row.key)!.max)) {
        return { counted: false, counts: live }
      }
      // Two callers may both pass the read above; each increment below is still atomic and returns the count
      // after it, so the caller over the limit is refused all the same.
      const counts: AttemptCount[] = []
      for (const key of keys) {
        const [row] = await tx.insert(loginAttempts).values({ key, count: 1, resetAt })
          .onConflictDoUpdate({
            target: loginAttempts.key,
            set: {
              count: sql`case when ${loginAttempts.resetAt} <= ${stamp} then 1 else ${loginAttempts.count} + 1 end`,
              resetAt: sql`case when ${loginAttempts.resetAt} <= ${stamp} then ${resetAt.toISOString()}::timestamptz else ${loginAttempts.resetAt} end`
            }
          })
          .returning({ count: loginAttempts.count, resetAt: loginAttempts.resetAt })
        counts.push({ key, count: row.count, resetAt: row.resetAt })
      }
      return { counted: true, counts }
    })
  }

  async clearLoginAttempts (key: string): Promise<void> {
    await this.ready()
    await this.#db.delete(loginAttempts).where(eq(loginAttempts.key, key))
  }

  async releaseLoginAttempt (key: string): Promise<void> {
    await this.ready()
    await this.#db.update(loginAttempts).set({ count: sql`greatest(${loginAttempts.count} - 1, 0)` })
      .where(eq(loginAttempts.key, key))
  }

  async peekLogin (limits: AttemptLimit[], device: DeviceCheck | undefined, now: Date): Promise<LoginPeek> {
    await this.ready()
    const keys = limits.map((limit) => limit.key)
    const [counts, live] = await Promise.all([
      this.#db.select({ key: loginAttempts.key, count: loginAttempts.count, resetAt: loginAttempts.resetAt }).from(loginAttempts)
        .where(and(inArray(loginAttempts.key, keys), gt(loginAttempts.resetAt, now))),
      device === undefined
        ? []
        : this.#db.select({ userId: deviceTokens.userId }).from(deviceTokens).where(and(
          eq(deviceTokens.tokenHash, device.tokenHash), eq(deviceTokens.userId, device.userId), isNull(deviceTokens.revokedAt),
          gt(deviceTokens.expiresAt, now), lt(deviceTokens.failures, device.max)
        ))
    ])
    return { counts, deviceLive: live.length > 0 }
  }

  async hitDeviceToken (tokenHash: string, userId: string, max: number, now: Date): Promise<boolean> {
    await this.ready()
    const result = await this.#db.update(deviceTokens).set({ failures: sql`${deviceTokens.failures} + 1` })
      .where(and(
        eq(deviceTokens.tokenHash, tokenHash),
        eq(deviceTokens.userId, userId),
        isNull(deviceTokens.revokedAt),
        gt(deviceTokens.expiresAt, now),
        lt(deviceTokens.failures, max)
      ))
    return Number(result.rowCount) > 0
  }

  async resetDeviceToken (tokenHash: string, now: Date): Promise<void> {
    await this.ready()
    await this.#db.update(deviceTokens).set({ failures: 0, lastUsedAt: now }).where(eq(deviceTokens.tokenHash, tokenHash))
  }

  async revokeDeviceTokenIfSpent (tokenHash: string, max: number, now: Date): Promise<void> {
    await this.ready()
    await this.#db.update(deviceTokens).set({ revokedAt: now })
      .where(and(eq(deviceTokens.tokenHash, tokenHash), isNull(deviceTokens.revokedAt), gte(deviceTokens.failures, max)))
  }

  async revokeDeviceTokens (userId: string, now: Date): Promise<number> {
    await this.ready()
    const result = await this.#db.update(deviceTokens).set({ revokedAt: now })
      .where(and(eq(deviceTokens.userId, userId), isNull(deviceTokens.revokedAt)))
    return Number(result.rowCount)
  }

  async purgeExpired (now: Date): Promise<number> {
    await this.ready()
    return this.#transaction(async (tx) => {
      const { rows: [lock] } = await tx.execute<{ locked: boolean }>(PURGE_LOCK)
      if (lock?.locked !== true) return 0
      const deadSessions = or(lte(sessions.expiresAt, now), sql`${sessions.revokedAt} is not null`)
      const tokens = await tx.delete(refreshTokens)
        .where(sql`${refreshTokens.sessionId} in (select ${sessions.id} from ${sessions} where ${deadSessions})`)
      const dead = await tx.delete(sessions).where(deadSessions)
      const devices = await tx.delete(deviceTokens).where(or(lte(deviceTokens.expiresAt, now), sql`${deviceTokens.revokedAt} is not null`))
      const counters = await tx.delete(loginAttempts).where(lte(loginAttempts.resetAt, now))
      const actions = await tx.delete(actionTokens).where(or(lte(actionTokens.expiresAt, now), sql`${actionTokens.usedAt} is not null`))
      return [tokens, dead, devices, counters, actions].reduce((sum, result) => sum + Number(result.rowCount), 0)
    })
  }

  async close (): Promise<void> {
    await this.sessionCache?.close()
    await this.#options.onClose?.()
  }
}
