import type Database from 'better-sqlite3'
import { eq, getTableColumns, sql } from 'drizzle-orm'
import { getTableConfig } from 'drizzle-orm/sqlite-core'
import { BoundedCache } from '../../lib/bounded-cache.ts'
import { answeredSessionColumns } from '../answered-columns.ts'
import { toFoundSession, toPublicUser, withUser } from '../found-session.ts'
import type { FoundSession, PublicUserRecord, SessionLookupDiagnostics } from '../records.ts'
import { RememberedLookup } from '../remembered-lookup.ts'
import { sessions, type users } from './schema.ts'
import type { SqliteDatabase } from './store.ts'
import { CommitCounters, type SqliteVersionSource, TriggerVersion } from './versions.ts'

const KNOWN_USERS = 10_000

type Row = unknown[] | undefined

/**
 * The bearer hook's lookup (session joined to its user, without the password hash), answered synchronously
 * and remembered (RememberedLookup) under the version of versions.ts: the triggers' version, or, where the
 * triggers cannot be made, the commit counters. The SQL is built by Drizzle from the table objects (so a
 * renamed column cannot leave it stale), then run as raw better-sqlite3 statements returning arrays, mapped
 * by each column's own driver mapping. The version is read before the lookup: a commit landing in between
 * makes the next call look again, never keeps a stale answer. Nothing is remembered or reused while the
 * connection is inside a transaction (a rollback moves no counter).
 */
export class SqliteSessionLookup {
  readonly #client: Database.Database
  readonly #join: Database.Statement
  readonly #sessionOnly: Database.Statement
  readonly #userOnly: Database.Statement
  readonly #begin: Database.Statement
  readonly #commit: Database.Statement
  readonly #columns: Array<[string, ReturnType<typeof getTableColumns>[string]]>
  readonly #source: SqliteVersionSource | CommitCounters
  readonly #memory = new RememberedLookup()
  // Inside a shared read: users looked up apart, remembered under the same version as the answers.
  readonly #users = new BoundedCache<string, PublicUserRecord>(KNOWN_USERS)
  #usersVersion: unknown
  #sharedReads = 0

  constructor (db: SqliteDatabase, client: Database.Database, usersTable: typeof users, now?: () => number) {
    const { passwordHash: _hash, ...userColumns } = getTableColumns(usersTable)
    this.#client = client
    this.#columns = Object.entries(userColumns)
    this.#source = TriggerVersion.install(client, getTableConfig(usersTable).name, now) ?? new CommitCounters(client)
    const answered = answeredSessionColumns(sessions)
    const byId = eq(sessions.id, sql.placeholder('id'))
    this.#join = client.prepare(db.select({ ...answered, ...userColumns }).from(sessions)
      .innerJoin(usersTable, eq(usersTable.id, sessions.userId)).where(byId).toSQL().sql).raw(true)
    this.#sessionOnly = client.prepare(db.select(answered).from(sessions).where(byId).toSQL().sql).raw(true)
    this.#userOnly = client.prepare(db.select(userColumns).from(usersTable)
      .where(eq(usersTable.id, sql.placeholder('id'))).toSQL().sql).raw(true)
    this.#begin = client.prepare('begin')
    this.#commit = client.prepare('commit')
  }

  find (sessionId: string): FoundSession | undefined {
    const version = this.#client.inTransaction ? undefined : this.#source.current()
    return this.#answer(sessionId, version, this.#joined)
  }

  /**
   * Several lookups, each answered as by `find`, inside one read transaction (one snapshot, its version read
   * once): every statement outside a transaction takes and drops SQLite's locks (system calls, a few µs each
   * on a virtual machine), so the lookups of one event-loop turn share them.
   */
  findMany (sessionIds: readonly string[]): Array<FoundSession | undefined> {
    if (sessionIds.length < 2 || this.#client.inTransaction) return sessionIds.map((id) => this.find(id))
    // Put back lost triggers (a write) before the read transaction, not inside it.
    if ('refresh' in this.#source) this.#source.refresh()
    this.#begin.run()
    this.#sharedReads++
    try {
      const version = this.#source.current()
      return sessionIds.map((id) => this.#answer(id, version, this.#apart))
    } finally {
      this.#commit.run()
    }
  }

  diagnostics (): SessionLookupDiagnostics {
    return { ...this.#memory.diagnostics(), watching: this.#source.watching, trusted: this.#source.trusted, sharedReads: this.#sharedReads }
  }

  #answer (sessionId: string, version: unknown, look: (sessionId: string, version: unknown) => FoundSession | undefined): FoundSession | undefined {
    const known = this.#memory.recall(sessionId, version)
    if (known !== undefined) return known
    const found = look(sessionId, version)
    this.#memory.remember(sessionId, found, version)
    return found
  }

  readonly #joined = (sessionId: string): FoundSession | undefined => {
    const row = this.#join.get(sessionId) as Row
    return row === undefined ? undefined : toFoundSession(sessionId, row, 0, this.#columns, sessions.expiresAt, sessions.revokedAt)
  }

  // Applications have far fewer users than sessions: inside one snapshot, a session seen for the first time
  // costs one search of the sessions table instead of the join, its user answered from memory.
  readonly #apart = (sessionId: string, version: unknown): FoundSession | undefined => {
    if (version !== this.#usersVersion) {
      this.#users.clear()
      this.#usersVersion = version
    }
    const row = this.#sessionOnly.get(sessionId) as Row
    if (row === undefined) return undefined
    const userId = row[0] as string
    // Untrusted (no version), the memory was emptied when the version went, and nothing is added to it.
    let user = this.#users.get(userId)
    if (user === undefined) {
      const userRow = this.#userOnly.get(userId) as Row
      if (userRow === undefined) return undefined
      user = toPublicUser(userRow, 0, this.#columns)
      if (version !== undefined) this.#users.set(userId, user)
    }
    return withUser(sessionId, row, 0, user, sessions.expiresAt, sessions.revokedAt)
  }
}
