import { and, desc, eq, gt, isNull, lt, ne, sql } from 'drizzle-orm'
import type { CheckedCredentials, FoundSession, NewSession, RotationContext, RotationResult, SessionExtras, SessionListing, SessionStore } from '../store.ts'
import type { PgContext } from './context.ts'
import { findMany, type ManyLookups } from '../turn-batch.ts'
import { sessionListingColumns } from '../answered-columns.ts'
import { settleAttempts } from './limits.ts'
import type { PgTransaction } from './pool-clients.ts'
import { deviceTokens, refreshTokens, sessions } from './schema.ts'
import type { PgSessionLookup } from './session-lookup.ts'

export class PgSessionStore implements SessionStore<'async'>, ManyLookups<'async'> {
  readonly #c: PgContext
  readonly #lookup: PgSessionLookup

  constructor (context: PgContext, lookup: PgSessionLookup) {
    this.#c = context
    this.#lookup = lookup
  }

  async create (session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, extras: SessionExtras = {}): Promise<boolean> {
    await this.#c.ready()
    const users = this.#c.users
    return this.#c.transaction(async (tx) => {
      // One conditional statement checks and locks the user row: a password change or deactivation committed
      // before it is seen (the WHERE is re-checked on the newest row), one in flight waits for this transaction
      // and then revokes the session it made.
      const stamped = await tx.update(users).set({ lastLogin: session.createdAt }).where(and(
        eq(users.id, session.userId),
        sql`${users.passwordHash} is not distinct from ${credentials.passwordHash}`,
        eq(users.isActive, true)
      ))
      if (stamped.rowCount !== 1) return false
      await tx.insert(sessions).values({ ...session, method: session.method ?? 'password', lastUsedAt: session.createdAt })
      await tx.insert(refreshTokens).values({ tokenHash: refreshTokenHash, sessionId: session.id, generation: 0, createdAt: session.createdAt })
      if (extras.device !== undefined) {
        await tx.insert(deviceTokens).values({ ...extras.device, userId: session.userId, createdAt: session.createdAt, lastUsedAt: session.createdAt })
      }
      if (extras.settle !== undefined) await settleAttempts(tx, extras.settle, session.createdAt)
      return true
    })
  }

  async find (sessionId: string): Promise<FoundSession | undefined> {
    await this.#c.ready()
    return this.#lookup.find(sessionId)
  }

  async [findMany] (sessionIds: readonly string[]): Promise<Array<FoundSession | undefined>> {
    await this.#c.ready()
    return this.#lookup.findMany(sessionIds)
  }

  async rotateRefreshToken (oldHash: string, newHash: string, now: Date, context: RotationContext = {}): Promise<RotationResult> {
    await this.#c.ready()
    return this.#c.transaction(async (tx): Promise<RotationResult> => {
      const [consumed] = await tx.update(refreshTokens)
        .set({ usedAt: now })
        .where(and(
          eq(refreshTokens.tokenHash, oldHash),
          isNull(refreshTokens.usedAt),
          sql`exists (select 1 from ${sessions} join ${this.#c.users} on ${this.#c.users.id} = ${sessions.userId}
            where ${sessions.id} = ${refreshTokens.sessionId} and ${sessions.revokedAt} is null
            and ${sessions.expiresAt} > ${now.toISOString()} and ${this.#c.users.isActive}
            and ${context.idleCutoff === undefined ? sql`true` : sql`${sessions.lastUsedAt} > ${context.idleCutoff.toISOString()}`})`
        ))
        .returning({ sessionId: refreshTokens.sessionId, generation: refreshTokens.generation })
      if (consumed !== undefined) {
        const generation = consumed.generation + 1
        await tx.insert(refreshTokens).values({ tokenHash: newHash, sessionId: consumed.sessionId, generation, createdAt: now })
        // Rows per session stay at two: the new token and the one just used (for the grace window's answer).
        await tx.delete(refreshTokens).where(and(eq(refreshTokens.sessionId, consumed.sessionId), lt(refreshTokens.generation, consumed.generation)))
        const [session] = await tx.update(sessions).set({ lastUsedAt: now, ...(context.ip == null ? {} : { ip: context.ip }) })
          .where(eq(sessions.id, consumed.sessionId)).returning({ userId: sessions.userId, expiresAt: sessions.expiresAt, method: sessions.method })
        return { outcome: 'rotated', sessionId: consumed.sessionId, userId: session.userId, generation, expiresAt: session.expiresAt, method: session.method }
      }
      return this.#spent(tx, oldHash)
    })
  }

  async #spent (tx: PgTransaction, tokenHash: string): Promise<RotationResult> {
    const users = this.#c.users
    const [spent] = await tx.select({
      generation: refreshTokens.generation,
      usedAt: refreshTokens.usedAt,
      lastUsedAt: sessions.lastUsedAt,
      session: { id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt },
      userActive: users.isActive
    }).from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .leftJoin(users, eq(users.id, sessions.userId))
      .where(eq(refreshTokens.tokenHash, tokenHash))
    if (spent === undefined) return { outcome: 'unknown' }
    // An aggregate always yields one row, and this session holds at least the spent token.
    const [latest] = await tx.select({ generation: sql<number>`max(${refreshTokens.generation})` }).from(refreshTokens)
      .where(eq(refreshTokens.sessionId, spent.session.id))
    return { outcome: 'spent', ...spent, latestGeneration: latest.generation, userActive: spent.userActive === true }
  }

  async findByRefreshToken (tokenHash: string): Promise<string | undefined> {
    await this.#c.ready()
    const [row] = await this.#c.db.select({ sessionId: refreshTokens.sessionId }).from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, tokenHash))
    return row?.sessionId
  }

  async listForUser (userId: string, now: Date, limit: number): Promise<SessionListing[]> {
    await this.#c.ready()
    return this.#c.db.select(sessionListingColumns(sessions)).from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .orderBy(desc(sessions.createdAt), desc(sessions.id)).limit(limit)
  }

  async revokeOwned (sessionId: string, userId: string, reason: string, now: Date): Promise<boolean> {
    await this.#c.ready()
    const result = await this.#c.db.update(sessions).set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    return result.rowCount === 1
  }

  async revoke (sessionId: string, reason: string, now: Date): Promise<string | undefined> {
    await this.#c.ready()
    const [row] = await this.#c.db.update(sessions).set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))).returning({ userId: sessions.userId })
    return row?.userId
  }

  async revokeForUser (userId: string, reason: string, now: Date, exceptSessionId?: string): Promise<number> {
    await this.#c.ready()
    const result = await this.#c.db.update(sessions).set({ revokedAt: now, revokeReason: reason })
      .where(and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        exceptSessionId === undefined ? undefined : ne(sessions.id, exceptSessionId)
      ))
    return Number(result.rowCount)
  }
}
