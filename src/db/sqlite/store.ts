import type Database from 'better-sqlite3'
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { AuthStore, StoreDiagnostics } from '../store.ts'
import { SqliteAccountStore } from './accounts.ts'
import { SqliteActionStore } from './actions.ts'
import { SqliteDeviceStore } from './devices.ts'
import { SqliteLimitStore } from './limits.ts'
import { SqliteMaintenanceStore } from './maintenance.ts'
import { type authUserColumns, users } from './schema.ts'
import { SqliteSessionLookup } from './session-lookup.ts'
import { SqliteSessionStore } from './sessions.ts'
import { prepareStatements } from './statements.ts'
import { SqliteUserStore } from './users.ts'

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
  readonly users: SqliteUserStore
  readonly sessions: SqliteSessionStore
  readonly limits: SqliteLimitStore
  readonly devices: SqliteDeviceStore
  readonly actions: SqliteActionStore
  readonly maintenance: SqliteMaintenanceStore
  readonly accounts: SqliteAccountStore
  readonly #onClose: (() => void | Promise<void>) | undefined
  readonly #lookup: SqliteSessionLookup

  constructor (db: SqliteDatabase, usersTable: SqliteUsersTable = users, onClose?: () => void | Promise<void>) {
    // The custom table has at least these columns; Drizzle's types cannot express "at least", so narrow once here.
    const table = usersTable as unknown as typeof users
    this.#onClose = onClose
    const client = (db as unknown as { $client: Database.Database }).$client
    const q = prepareStatements(db, table)
    this.#lookup = new SqliteSessionLookup(db, client, table)
    this.users = new SqliteUserStore(db, table, q)
    this.sessions = new SqliteSessionStore(db, client, q, this.#lookup)
    this.limits = new SqliteLimitStore(client, q)
    this.devices = new SqliteDeviceStore(db, q)
    this.actions = new SqliteActionStore(db, table)
    this.maintenance = new SqliteMaintenanceStore(db)
    this.accounts = new SqliteAccountStore(db, table)
  }

  async ready (): Promise<void> {}

  diagnostics (): StoreDiagnostics {
    return { sessionLookups: this.#lookup.diagnostics() }
  }

  async close (): Promise<void> {
    await this.#onClose?.()
  }
}
