import { and, eq, isNull, lte, ne, or, sql } from 'drizzle-orm'
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import { ConflictError } from '../../errors.ts'
import type {
  AttemptCount, AuthStore, NewSession, NewUserRecord, RotationResult, SessionWithUser, UserPatch, UserRecord
} from '../store.ts'
import { isUniqueViolation } from '../unique-violation.ts'
import { type authUserColumns, loginAttempts, refreshTokens, sessions, users } from './schema.ts'
import { compileFindSession } from './session-lookup.ts'

export type SqliteDatabase = BetterSQLite3Database<Record<string, unknown>>

/** Any SQLite table that carries the columns of `authUserColumns()` (and possibly more). */
export type SqliteUsersTable = SQLiteTable & { [K in keyof ReturnType<typeof authUserColumns>]: SQLiteColumn }

export class SqliteAuthStore implements AuthStore {
  readonly dialect = 'sqlite'
  readonly #db: SqliteDatabase
  readonly #users: typeof users
  readonly #onClose: (() => void) | undefined
  readonly #findSession: (sessionId: string) => SessionWithUser | undefined

  constructor (db: SqliteDatabase, usersTable: SqliteUsersTable = users, onClose?: () => void) {
    this.#db = db
    // The custom table has at least these columns; Drizzle's types cannot express "at least", so narrow once here.
    this.#users = usersTable as unknown as typeof users
    this.#onClose = onClose
    this.#findSession = compileFindSession(db, this.#users)
  }

  async ready (): Promise<void> {}

  async createUser (values: NewUserRecord): Promise<UserRecord> {
    try {
      return this.#db.insert(this.#users).values(values as typeof users.$inferInsert).returning().get()
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('Email is already registered', 'email_taken')
      throw err
    }
  }

  async findUserByEmail (email: string): Promise<UserRecord | undefined> {
    return this.#db.select().from(this.#users).where(eq(this.#users.email, email)).get()
  }

  async findUserById (id: string): Promise<UserRecord | undefined> {
    return this.#db.select().from(this.#users).where(eq(this.#users.id, id)).get()
  }

  async updateUser (id: string, patch: UserPatch, now: Date): Promise<UserRecord | undefined> {
    return this.#db.update(this.#users).set({ ...patch, updatedAt: now })
      .where(eq(this.#users.id, id)).returning().get()
  }

  async createSession (session: NewSession, refreshTokenHash: string): Promise<void> {
    this.#db.transaction((tx) => {
      tx.insert(sessions).values({ ...session, lastUsedAt: session.createdAt }).run()
      tx.insert(refreshTokens).values({
        tokenHash: refreshTokenHash, sessionId: session.id, generation: 0, createdAt: session.createdAt
      }).run()
      tx.update(this.#users).set({ lastLogin: session.createdAt }).where(eq(this.#users.id, session.userId)).run()
    }, { behavior: 'immediate' })
  }

  async findSession (sessionId: string): Promise<SessionWithUser | undefined> {
    return this.#findSession(sessionId)
  }

  findSessionSync (sessionId: string): SessionWithUser | undefined {
    return this.#findSession(sessionId)
  }

  async rotateRefreshToken (oldHash: string, newHash: string, now: Date): Promise<RotationResult> {
    return this.#db.transaction((tx): RotationResult => {
      const consumed = tx.update(refreshTokens)
        .set({ usedAt: now })
        .where(and(
          eq(refreshTokens.tokenHash, oldHash),
          isNull(refreshTokens.usedAt),
          sql`exists (select 1 from ${sessions} where ${sessions.id} = ${refreshTokens.sessionId}
            and ${sessions.revokedAt} is null and ${sessions.expiresAt} > ${now.getTime()})`
        ))
        .returning({ sessionId: refreshTokens.sessionId, generation: refreshTokens.generation })
        .get()
      if (consumed !== undefined) {
        const generation = consumed.generation + 1
        tx.insert(refreshTokens).values({
          tokenHash: newHash, sessionId: consumed.sessionId, generation, createdAt: now
        }).run()
        const session = tx.update(sessions).set({ lastUsedAt: now })
          .where(eq(sessions.id, consumed.sessionId)).returning({ userId: sessions.userId }).get()
        return { outcome: 'rotated', sessionId: consumed.sessionId, userId: session!.userId, generation }
      }
      const spent = tx.select({
        generation: refreshTokens.generation,
        usedAt: refreshTokens.usedAt,
        session: {
          id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt
        }
      }).from(refreshTokens)
        .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
        .where(eq(refreshTokens.tokenHash, oldHash))
        .get()
      if (spent === undefined) return { outcome: 'unknown' }
      // An aggregate always yields one row, and this session holds at least the spent token.
      const latest = tx.select({ generation: sql<number>`max(${refreshTokens.generation})` }).from(refreshTokens)
        .where(eq(refreshTokens.sessionId, spent.session.id)).get()!
      return { outcome: 'spent', ...spent, latestGeneration: latest.generation }
    }, { behavior: 'immediate' })
  }

  async findRefreshTokenSession (tokenHash: string): Promise<string | undefined> {
    return this.#db.select({ sessionId: refreshTokens.sessionId }).from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, tokenHash)).get()?.sessionId
  }

  async revokeSession (sessionId: string, reason: string, now: Date): Promise<boolean> {
    const result = this.#db.update(sessions).set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))).run()
    return result.changes > 0
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

  async hitLoginAttempts (keys: string[], windowMs: number, now: Date): Promise<AttemptCount[]> {
    const resetAt = new Date(now.getTime() + windowMs)
    return this.#db.transaction((tx) => keys.map((key) => {
      const row = tx.insert(loginAttempts).values({ key, count: 1, resetAt })
        .onConflictDoUpdate({
          target: loginAttempts.key,
          set: {
            count: sql`case when ${loginAttempts.resetAt} <= ${now.getTime()} then 1 else ${loginAttempts.count} + 1 end`,
            resetAt: sql`case when ${loginAttempts.resetAt} <= ${now.getTime()} then ${resetAt.getTime()} else ${loginAttempts.resetAt} end`
          }
        })
        .returning({ count: loginAttempts.count, resetAt: loginAttempts.resetAt })
        .get()
      return { key, count: row.count, resetAt: row.resetAt }
    }), { behavior: 'immediate' })
  }

  async clearLoginAttempts (key: string): Promise<void> {
    this.#db.delete(loginAttempts).where(eq(loginAttempts.key, key)).run()
  }

  async releaseLoginAttempt (key: string): Promise<void> {
    this.#db.update(loginAttempts).set({ count: sql`max(${loginAttempts.count} - 1, 0)` })
      .where(eq(loginAttempts.key, key)).run()
  }

  async purgeExpired (now: Date, usedBefore: Date): Promise<number> {
    return this.#db.transaction((tx) => {
      // Tokens first: counting them separately keeps the total honest (the cascade would hide them).
      const deadSessions = or(lte(sessions.expiresAt, now), sql`${sessions.revokedAt} is not null`)
      const tokens = tx.delete(refreshTokens).where(or(
        sql`${refreshTokens.sessionId} in (select ${sessions.id} from ${sessions} where ${deadSessions})`,
        and(sql`${refreshTokens.usedAt} is not null`, lte(refreshTokens.usedAt, usedBefore))
      )).run().changes
      const dead = tx.delete(sessions).where(deadSessions).run().changes
      const counters = tx.delete(loginAttempts).where(lte(loginAttempts.resetAt, now)).run().changes
      return tokens + dead + counters
    }, { behavior: 'immediate' })
  }

  async close (): Promise<void> {
    this.#onClose?.()
  }
}
