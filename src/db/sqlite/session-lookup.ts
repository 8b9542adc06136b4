import type Database from 'better-sqlite3'
import { eq, getTableColumns, sql } from 'drizzle-orm'
import { getTableConfig } from 'drizzle-orm/sqlite-core'
import { BoundedCache } from '../../lib/bounded-cache.ts'
import { toFoundSession, toPublicUser, withUser } from '../found-session.ts'
import type { FoundSession, PublicUserRecord } from '../store.ts'
import { trackChanges } from './change-tracking.ts'
import { sessions, type users } from './schema.ts'
import type { SqliteDatabase } from './store.ts'

const REMEMBERED = 10_000
/** How often the schema is checked for triggers lost to a table rebuild. */
export const SCHEMA_CHECK_MS = 100

/** A remembered-answer cache whose size a test can read. */
export interface SessionLookup {
  (sessionId: string): FoundSession | undefined
  /** How many answers are remembered now (at most 10,000; the older half goes whole). */
  readonly size: number
  /** Lookups answered from memory, and lookups that ran the join, since the store was made. */
  readonly stats: { hits: number, misses: number }
  /** Several lookups, each answered as by the lookup itself, inside one read transaction (one snapshot). */
  readonly many: (sessionIds: readonly string[]) => Array<FoundSession | undefined>
  /** Read transactions `many` opened: a test can see that a batch shared one. */
  readonly batches: number
}

/**
 * The bearer hook's lookup (session joined to its user, without the password hash), answered synchronously.
 *
 * The SQL is built by Drizzle from the table objects (so a renamed column cannot leave it stale), then run as
 * one raw better-sqlite3 statement returning an array, mapped by each column's own driver mapping.
 *
 * Answers are remembered only while no answer can have changed: `auth_changes.version` moves (by triggers in
 * the schema, change-tracking.ts) on every update of a session's answered columns or of a user, and every
 * deletion of either, by any connection or process, raw SQL included. It moving forgets every answer, so a
 * revoked session, a deactivated user or a deleted row is seen on the very next request, while the
 * application's writes to its own tables leave the memory alone. Where the triggers cannot be made, any
 * commit forgets it: `PRAGMA data_version` (other connections) and `total_changes()` (this one).
 * With the triggers, the version is read in the join's own statement (one snapshot), and alone for a
 * remembered answer; without them, the counters are read before the join: a commit landing in between makes
 * the next call look again, never keeps a stale answer. Nothing is remembered or reused while the connection is inside a transaction (a
 * rollback moves neither counter). Answers are frozen: one may serve many requests.
 */
export function compileSessionLookup (db: SqliteDatabase, client: Database.Database, usersTable: typeof users): SessionLookup {
  const { passwordHash: _hash, ...userColumns } = getTableColumns(usersTable)
  const columns = Object.entries(userColumns)
  // The version the auth tables' triggers move; without it, any commit anywhere (the fallback).
  const usersName = getTableConfig(usersTable).name
  const tracked = trackChanges(client, usersName)
  const query = db.select({
    // Read in the join's own statement, so the answer and its version come from one snapshot.
    version: tracked === undefined ? sql`null` : sql`(select version from auth_changes where id = 1)`,
    userId: sessions.userId,
    expiresAt: sessions.expiresAt,
    revokedAt: sessions.revokedAt,
    ...userColumns
  }).from(sessions)
    .innerJoin(usersTable, eq(usersTable.id, sessions.userId))
    .where(eq(sessions.id, sql.placeholder('id')))
    .toSQL()
  const join = client.prepare(query.sql).raw(true)
  // Inside a batch's read transaction (one snapshot, its version read once) the session and its user are read
  // apart, the user from memory while the version stands: applications have far fewer users than sessions, so
  // a session seen for the first time costs one search of the sessions table instead of the join.
  const sessionOnly = client.prepare(db.select({ userId: sessions.userId, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt })
    .from(sessions).where(eq(sessions.id, sql.placeholder('id'))).toSQL().sql).raw(true)
  const userOnly = client.prepare(db.select(userColumns).from(usersTable)
    .where(eq(usersTable.id, sql.placeholder('id'))).toSQL().sql).raw(true)
  const dataVersion = tracked ?? client.prepare('pragma data_version').pluck(true)
  const totalChanges = tracked === undefined ? client.prepare('select total_changes()').pluck(true) : undefined
  const { expiresAt, revokedAt } = sessions
  let rowVersion: unknown
  // Rebuilding a table (a migration's copy-drop-rename) drops its triggers: the schema is looked at every
  // SCHEMA_CHECK_MS, and when it moved the memory is emptied and the triggers put back (until that can be
  // done, nothing is remembered).
  const schemaVersion = client.prepare('pragma schema_version').pluck(true)
  let schema = schemaVersion.get()
  let schemaCheckedAt = Date.now()
  let trusted = true

  function lookup (sessionId: string): FoundSession | undefined {
    const row = join.get(sessionId) as unknown[] | undefined
    if (row === undefined) return undefined
    rowVersion = row[0]
    return toFoundSession(sessionId, row, 1, columns, expiresAt, revokedAt)
  }

  const remembered = new BoundedCache<string, FoundSession>(REMEMBERED)
  const knownUsers = new BoundedCache<string, PublicUserRecord>(REMEMBERED)
  const forget = (): void => {
    remembered.clear()
    knownUsers.clear()
  }

  // In a batch: the snapshot's version is `current`; the memories hold answers of that version only.
  const lookupApart = (sessionId: string, current: unknown): FoundSession | undefined => {
    if (current !== version) {
      forget()
      version = current
    }
    rowVersion = current
    const row = sessionOnly.get(sessionId) as unknown[] | undefined
    if (row === undefined) return undefined
    const userId = row[0] as string
    let user = knownUsers.get(userId)
    if (user === undefined) {
      const userRow = userOnly.get(userId) as unknown[] | undefined
      if (userRow === undefined) return undefined
      user = toPublicUser(userRow, 0, columns)
      knownUsers.set(userId, user)
    }
    return withUser(sessionId, row, 0, user, expiresAt, revokedAt)
  }
  const stats = { hits: 0, misses: 0 }
  let version: unknown
  let changes: unknown

  const checkSchema = (now: number): void => {
    schemaCheckedAt = now
    // Untrusted (the triggers could not be put back), it tries again at every check.
    if (trusted && schemaVersion.get() === schema) return
    forget()
    version = undefined
    trusted = trackChanges(client, usersName) !== undefined
    schema = schemaVersion.get()
  }

  const schemaCheckDue = (): void => {
    const now = Date.now()
    if (now - schemaCheckedAt >= SCHEMA_CHECK_MS) checkSchema(now)
  }

  // With the triggers: a remembered answer costs one read of the version (or none, when a batch read it for
  // its snapshot); any other lookup one statement.
  const findTracked = (sessionId: string, current?: unknown): FoundSession | undefined => {
    schemaCheckDue()
    if (!trusted) {
      stats.misses++
      return lookup(sessionId)
    }
    const known = remembered.get(sessionId)
    if (known !== undefined && (current ?? tracked!.get()) === version) {
      stats.hits++
      return known
    }
    stats.misses++
    const found = current === undefined ? lookup(sessionId) : lookupApart(sessionId, current)
    if (found === undefined) {
      if (known !== undefined) remembered.delete(sessionId)
      return undefined
    }
    if (rowVersion !== version) {
      forget()
      version = rowVersion
    }
    remembered.set(sessionId, found)
    return found
  }

  const findWatchingCommits = (sessionId: string): FoundSession | undefined => {
    const nowVersion = dataVersion.get()
    const nowChanges = totalChanges!.get()
    if (nowVersion !== version || nowChanges !== changes) {
      forget()
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

  const find = (sessionId: string): FoundSession | undefined => {
    if (client.inTransaction) {
      forget()
      version = undefined
      stats.misses++
      return lookup(sessionId)
    }
    return tracked === undefined ? findWatchingCommits(sessionId) : findTracked(sessionId)
  }
  // Every statement outside a transaction takes and drops SQLite's locks (system calls, a few µs each on a
  // virtual machine); the lookups the bearer hook gathered in one event-loop turn share one read transaction.
  const begin = client.prepare('begin')
  const commit = client.prepare('commit')
  let batches = 0
  const many = (sessionIds: readonly string[]): Array<FoundSession | undefined> => {
    if (sessionIds.length < 2 || client.inTransaction) return sessionIds.map((id) => find(id))
    // Put back lost triggers (a write) before the read transaction, not inside it.
    if (tracked !== undefined) schemaCheckDue()
    begin.run()
    batches++
    try {
      if (tracked === undefined) return sessionIds.map((id) => findWatchingCommits(id))
      // One snapshot: the version cannot move inside it, so it is read once for the whole batch.
      const current = tracked.get()
      return sessionIds.map((id) => findTracked(id, current))
    } finally {
      commit.run()
    }
  }
  Object.defineProperty(find, 'stats', { get: () => ({ ...stats }) })
  Object.defineProperty(find, 'batches', { get: () => batches })
  Object.defineProperty(find, 'many', { value: many })
  return Object.defineProperty(find, 'size', { get: () => remembered.size }) as SessionLookup
}
