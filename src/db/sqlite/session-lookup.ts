import type Database from 'better-sqlite3'
import { getTableColumns, getTableName } from 'drizzle-orm'
import type { SessionWithUser, UserRecord } from '../store.ts'
import type { users } from './schema.ts'

const REMEMBERED = 10_000

/**
 * The bearer hook's lookup (session joined to its user), answered synchronously.
 *
 * The join is one raw better-sqlite3 statement returning an array, mapped by a row function built once from
 * the users table's own columns (an application's extra columns included).
 *
 * Answers are remembered only while the database is provably unchanged: `PRAGMA data_version` moves when any
 * other connection (another process, another handle in this one) commits, and `total_changes()` moves on any
 * row this connection inserts, updates or deletes. Either moving forgets every answer, so a revoked session, a
 * deactivated user or a deleted row is seen on the very next request; the two reads cost a fraction of the join.
 * The version is read before the join: a commit landing in between makes the next call look again, never
 * keeps a stale answer. Nothing is remembered or reused while the connection is inside a transaction.
 */
export function compileFindSession (client: Database.Database, usersTable: typeof users): (sessionId: string) => SessionWithUser | undefined {
  const columns = Object.entries(getTableColumns(usersTable))
  const list = columns.map(([, column]) => `u."${column.name}"`).join(', ')
  const join = client.prepare(
    `select s.user_id, s.expires_at, s.revoked_at, ${list} from auth_sessions s ` +
    `join "${getTableName(usersTable)}" u on u.id = s.user_id where s.id = ?`
  ).raw(true)
  const dataVersion = client.prepare('pragma data_version').pluck(true)
  const totalChanges = client.prepare('select total_changes()').pluck(true)

  function lookup (sessionId: string): SessionWithUser | undefined {
    const row = join.get(sessionId) as unknown[] | undefined
    if (row === undefined) return undefined
    const user: Record<string, unknown> = {}
    for (let i = 0; i < columns.length; i++) {
      const value = row[i + 3]
      user[columns[i][0]] = value === null ? null : columns[i][1].mapFromDriverValue(value)
    }
    // Frozen: one answer may serve many requests, so no caller can change it for the next.
    return Object.freeze({
      session: Object.freeze({
        id: sessionId,
        userId: row[0] as string,
        expiresAt: new Date(row[1] as number),
        revokedAt: row[2] === null ? null : new Date(row[2] as number)
      }),
      user: Object.freeze(user) as unknown as UserRecord
    })
  }

  const remembered = new Map<string, SessionWithUser>()
  let version: unknown
  let changes: unknown
  return (sessionId) => {
    // Inside an open transaction a rollback moves neither counter, so what is read there may be undone
    // unseen: answer from the table itself and remember nothing until the transaction ends.
    if (client.inTransaction) {
      remembered.clear()
      version = undefined
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
      if (known !== undefined) return known
    }
    const found = lookup(sessionId)
    if (found !== undefined) {
      if (remembered.size >= REMEMBERED) remembered.delete(remembered.keys().next().value!)
      remembered.set(sessionId, found)
    }
    return found
  }
}
