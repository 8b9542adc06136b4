import type Database from 'better-sqlite3'
import { and, desc, eq, gt, isNull, ne } from 'drizzle-orm'
import type { CheckedCredentials, FoundSession, NewSession, RotationContext, RotationResult, SessionExtras, SessionListing, SessionStore } from '../store.ts'
import { findMany, type ManyLookups } from '../turn-batch.ts'
import { sessionListingColumns } from '../answered-columns.ts'
import { settleAttempts } from './limits.ts'
import { sessions } from './schema.ts'
import type { SqliteSessionLookup } from './session-lookup.ts'
import type { PreparedStatements } from './statements.ts'
import type { SqliteDatabase } from './store.ts'

const listingColumns = sessionListingColumns(sessions)

type Create = (session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, extras: SessionExtras) => boolean

export class SqliteSessionStore implements SessionStore<'sync'>, ManyLookups<'sync'> {
  readonly #db: SqliteDatabase
  readonly #q: PreparedStatements
  readonly #lookup: SqliteSessionLookup
  readonly #create: Database.Transaction<Create>
  readonly #rotate: Database.Transaction<(oldHash: string, newHash: string, now: Date, context: RotationContext) => RotationResult>

  constructor (db: SqliteDatabase, client: Database.Database, q: PreparedStatements, lookup: SqliteSessionLookup) {
    this.#db = db
    this.#q = q
    this.#lookup = lookup
    // Transactions are made once; each runs as BEGIN IMMEDIATE, so concurrent writers queue on the lock.
    this.#create = client.transaction((session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, extras: SessionExtras) => {
      const nowMs = session.createdAt.getTime()
      const stamped = q.stampLastLogin.run({ nowMs, userId: session.userId, passwordHash: credentials.passwordHash })
      if (stamped.changes !== 1) return false
      q.insertSession.run({ ...session, method: session.method ?? 'password' })
      q.insertRefreshToken.run({ tokenHash: refreshTokenHash, sessionId: session.id, generation: 0, createdAt: session.createdAt })
      if (extras.device !== undefined) q.insertDeviceToken.run({ ...extras.device, userId: session.userId, createdAt: session.createdAt })
      if (extras.settle !== undefined) settleAttempts(q, extras.settle, nowMs)
      return true
    })
    this.#rotate = client.transaction((oldHash: string, newHash: string, now: Date, context: RotationContext): RotationResult => {
      // Every stamp is a time at or after 1970: -1 lets any session through when there is no idle limit.
      const idleCutoffMs = context.idleCutoff?.getTime() ?? -1
      const consumed = q.consumeRefreshToken.get({ tokenHash: oldHash, nowMs: now.getTime(), idleCutoffMs })
      if (consumed !== undefined) {
        const generation = consumed.generation + 1
        q.insertRefreshToken.run({ tokenHash: newHash, sessionId: consumed.sessionId, generation, createdAt: now })
        q.dropOlderRefreshTokens.run({ sessionId: consumed.sessionId, generation: consumed.generation })
        const session = q.touchSession.get({ nowMs: now.getTime(), sessionId: consumed.sessionId, ip: context.ip ?? null })
        return { outcome: 'rotated', sessionId: consumed.sessionId, userId: session!.userId, generation, expiresAt: session!.expiresAt, method: session!.method }
      }
      const spent = q.spentRefreshToken.get({ tokenHash: oldHash })
      if (spent === undefined) return { outcome: 'unknown' }
      // An aggregate always yields one row, and this session holds at least the spent token.
      const latest = q.latestGeneration.get({ sessionId: spent.session.id })!
      const { userActive, ...rest } = spent
      return { outcome: 'spent', ...rest, latestGeneration: latest.generation, userActive: userActive === 1 }
    })
  }

  async create (session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, extras: SessionExtras = {}): Promise<boolean> {
    return this.#create.immediate(session, refreshTokenHash, credentials, extras)
  }

  find (sessionId: string): FoundSession | undefined {
    return this.#lookup.find(sessionId)
  }

  [findMany] (sessionIds: readonly string[]): Array<FoundSession | undefined> {
    return this.#lookup.findMany(sessionIds)
  }

  async rotateRefreshToken (oldHash: string, newHash: string, now: Date, context: RotationContext = {}): Promise<RotationResult> {
    return this.#rotate.immediate(oldHash, newHash, now, context)
  }

  async findByRefreshToken (tokenHash: string): Promise<string | undefined> {
    return this.#q.refreshTokenSession.get({ tokenHash })?.sessionId
  }

  async listForUser (userId: string, now: Date, limit: number): Promise<SessionListing[]> {
    return this.#db.select(listingColumns).from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .orderBy(desc(sessions.createdAt), desc(sessions.id)).limit(limit).all()
  }

  async revokeOwned (sessionId: string, userId: string, reason: string, now: Date): Promise<boolean> {
    return this.#db.update(sessions).set({ revokedAt: now, revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt))).run().changes === 1
  }

  async revoke (sessionId: string, reason: string, now: Date): Promise<string | undefined> {
    return this.#q.revokeSession.get({ sessionId, reason, nowMs: now.getTime() })?.userId
  }

  async revokeForUser (userId: string, reason: string, now: Date, exceptSessionId?: string): Promise<number> {
    return this.#db.update(sessions).set({ revokedAt: now, revokeReason: reason })
      .where(and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        exceptSessionId === undefined ? undefined : ne(sessions.id, exceptSessionId)
      )).run().changes
  }
}
