/** `fastify-drizzle-auth/sqlite`: the SQLite dialect (better-sqlite3), loaded only by applications that use it. */
import type Database from 'better-sqlite3'
import { getTableName } from 'drizzle-orm'
import { ConfigurationError } from '../../errors.ts'
import { checkUsersTableInDatabase } from '../users-table-check.ts'
import { migrate } from './migrate.ts'
import { openSqlite } from './open.ts'
import { type SqliteDatabase, SqliteAuthStore, type SqliteUsersTable } from './store.ts'

export interface SqliteStoreOptions {
  /** An application table built with `authUserColumns()` (default: the plugin's `auth_users`). */
  usersTable?: SqliteUsersTable
  /** Apply the plugin's migrations now (default true; without `auth_users` when `usersTable` is given). */
  migrate?: boolean
}

/**
 * The SQLite store, from a file path (opened with WAL, a busy timeout and a background checkpointer, closed
 * with the store), ':memory:', or a Drizzle better-sqlite3 database (left open: it is the application's).
 */
export function sqliteStore (pathOrDb: string | SqliteDatabase, options: SqliteStoreOptions = {}): SqliteAuthStore {
  if (typeof pathOrDb !== 'string' && !isSqliteDatabase(pathOrDb)) {
    throw new ConfigurationError('fastify-drizzle-auth: sqliteStore() takes a file path, \':memory:\' or a Drizzle better-sqlite3 database')
  }
  const shouldMigrate = options.migrate ?? true
  const migrateOptions = { ownUsersTable: options.usersTable !== undefined }
  const prepare = (db: SqliteDatabase): void => {
    if (shouldMigrate) migrate(db, migrateOptions)
    if (options.usersTable !== undefined) checkUsersTable(db, options.usersTable)
  }
  if (typeof pathOrDb !== 'string') {
    prepare(pathOrDb)
    return new SqliteAuthStore(pathOrDb, options.usersTable)
  }
  const opened = openSqlite(pathOrDb)
  try {
    prepare(opened.db)
  } catch (err) {
    void opened.close()
    throw err
  }
  return new SqliteAuthStore(opened.db, options.usersTable, opened.close)
}

function checkUsersTable (db: SqliteDatabase, table: SqliteUsersTable): void {
  const client = (db as unknown as { $client: Database.Database }).$client
  checkUsersTableInDatabase(table, client.prepare('select name from pragma_table_xinfo(?)').pluck().all(getTableName(table)) as string[])
}

function isSqliteDatabase (value: unknown): value is SqliteDatabase {
  const client = (value as { $client?: { prepare?: unknown, pragma?: unknown } } | null)?.$client
  return typeof client?.prepare === 'function' && typeof client.pragma === 'function'
}

export { authUserColumns, users, sessions, refreshTokens, loginAttempts, deviceTokens, actionTokens, outbox, authChanges, accounts, oauthFlows, ACTION_PURPOSES } from './schema.ts'
export type { UserRow, NewUserRow, SessionRow, RefreshTokenRow, ActionTokenRow, OutboxRow } from './schema.ts'
export { migrate } from './migrate.ts'
export type { MigrateOptions } from './migrate.ts'
export { openSqlite } from './open.ts'
export type { OpenedSqlite, OpenSqliteOptions } from './open.ts'
export { SqliteAuthStore } from './store.ts'
export type { SqliteDatabase, SqliteUsersTable } from './store.ts'
