import type Database from 'better-sqlite3'
import { eq, getTableColumns, sql } from 'drizzle-orm'
import { BoundedCache } from '../bounded-cache.ts'
import type { FoundSession, PublicUserRecord } from '../store.ts'
import { sessions, type users } from './schema.ts'
import type { SqliteDatabase } from './store.ts'

const REMEMBERED = 10_000

/** A remembered-answer cache whose size a test can read. */
export interface SessionLookup {
  (sessionId: string): FoundSession | undefined
  /** How many answers are remembered now (at most 10,000; the older half goes whole). */
  readonly size: number
  /** Lookups answered from memory, and lookups that ran the join, since the store was made. */
  readonly stats: { hits: number, misses: number }
}

/**
 * The bearer hook's lookup (session joined to its user, without the password hash), answered synchronously.
 *
 * The SQL is built by Drizzle from the table objects (so a renamed column cannot leave it stale), then run as
 * one raw better-sqlite3 statement returning an array, mapped by each column's own driver mapping.
 *
 * Answers are remembered only while the database is provably unchanged: `PRAGMA data_version` moves when any
 * other connection (another process, another handle in this one) commits, and `total_changes()` moves on any
 * row this connection inserts, updates or deletes. Either moving forgets every answer, so a revoked session, a
 * deactivated user or a deleted row is seen on the very next request; the two reads cost a fraction of the join.
 * The version is read before the join: a commit landing in between makes the next call look again, never
 * keeps a stale answer. Nothing is remembered or reused while the connection is inside a transaction (a
 * rollback moves neither counter). Answers are frozen: one may serve many requests.
 */
export function compileSessionLookup (db: SqliteDatabase, client: Database.Database, usersTable: typeof users): SessionLookup {
  const { passwordHash: _hash, ...userColumns } = getTableColumns(usersTable)
  const columns = Object.entries(userColumns)
  const query = db.select({
    userId: sessions.userId,
    expiresAt: sessions.expiresAt,
    revokedAt: sessions.revokedAt,
    ...userColumns
  }).from(sessions)
    .innerJoin(usersTable, eq(usersTable.id, sessions.userId))
    .where(eq(sessions.id, sql.placeholder('id')))
    .toSQL()
  const join = client.prepare(query.sql).raw(true)
  const dataVersion = client.prepare('pragma data_version').pluck(true)
  const totalChanges = client.prepare('select total_changes()').pluck(true)
  const { expiresAt, revokedAt } = sessions

  function lookup (sessionId: string): FoundSession | undefined {
    const row = join.get(sessionId) as unknown[] | undefined
    if (row === undefined) return undefined
    const user: Record<string, unknown> = {}
    for (let i = 0; i < columns.length; i++) {
      const value = row[i + 3]
      user[columns[i][0]] = value === null ? null : columns[i][1].mapFromDriverValue(value)
    }
    return Object.freeze({
      session: Object.freeze({
        id: sessionId,
        userId: row[0] as string,
        expiresAt: expiresAt.mapFromDriverValue(row[1] as number) as Date,
        revokedAt: row[2] === null ? null : revokedAt.mapFromDriverValue(row[2] as number) as Date
      }),
      user: Object.freeze(user) as unknown as PublicUserRecord
    })
  }

  const remembered = new BoundedCache<string, FoundSession>(REMEMBERED)
  const stats = { hits: 0, misses: 0 }
  let version: unknown
  let changes: unknown
  const find = (sessionId: string): FoundSession | undefined => {
    if (client.inTransaction) {
      remembered.clear()
      version = undefined
      stats.misses++
      return lookup(sessionId)
    }
    const nowVersion = dataVersion.get()
    const nowChanges = totalChanges.get()
    if (nowVersion !== version || nowChanges !== changes) {
      remembered.clear()
      version = nowVersion
      changes = nowChanges
    } else {
      const known = remembered.get(sessionId)
      if (known !== undefined) {
        stats.hits++
        return known
      }
    }
    stats.misses++
    const found = lookup(sessionId)
    if (found !== undefined) remembered.set(sessionId, found)
    return found
  }
  Object.defineProperty(find, 'stats', { get: () => ({ ...stats }) })
  return Object.defineProperty(find, 'size', { get: () => remembered.size }) as SessionLookup
}
