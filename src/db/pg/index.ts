/** `fastify-drizzle-auth/pg`: the PostgreSQL dialect (node-postgres), loaded only by applications that use it. */
import { sql } from 'drizzle-orm'
import { getTableConfig } from 'drizzle-orm/pg-core'
import { checkUsersTableInDatabase } from '../users-table-check.ts'
import { ConfigurationError } from '../../errors.ts'
import { positiveInteger } from '../../lib/option-checks.ts'
import { migrate } from './migrate.ts'
import { openPostgres, type PostgresPoolOptions } from './open.ts'
import { type PgDatabase, PgAuthStore, type PgUsersTable } from './store.ts'

export interface PgStoreOptions {
  /** An application table built with `authUserColumns()` (default: the plugin's `auth_users`). */
  usersTable?: PgUsersTable
  /** Apply the plugin's migrations before the first query (default true; retried while the server is down). */
  migrate?: boolean
  /** node-postgres pool settings for a URL (max, idleTimeoutMillis, ssl, ...). */
  pool?: PostgresPoolOptions
  /**
   * Remember session lookups in this process, forgotten when any instance's write is NOTIFYed (LISTEN on a
   * connection of its own; nothing is remembered while it is down); `maxStalenessMs` (default 1000) caps reuse.
   */
  sessionCache?: { maxStalenessMs?: number }
}

/**
 * The PostgreSQL store, from a `postgres://` URL (a pool is opened, and ended with the store) or a Drizzle
 * node-postgres database (left open: it is the application's).
 */
export function pgStore (urlOrDb: string | PgDatabase, options: PgStoreOptions = {}): PgAuthStore {
  const ownUsersTable = options.usersTable !== undefined
  const shouldMigrate = options.migrate ?? true
  const { usersTable } = options
  const migrateDb = shouldMigrate || usersTable !== undefined
    ? async (db: PgDatabase) => {
      if (shouldMigrate) await migrate(db, { ownUsersTable })
      if (usersTable !== undefined) await checkUsersTable(db, usersTable)
    }
    : undefined
  const sessionCache = options.sessionCache === undefined
    ? undefined
    : { maxStalenessMs: positiveInteger(options.sessionCache?.maxStalenessMs, 1000, 'sessionCache.maxStalenessMs') }
  if (typeof urlOrDb === 'string') {
    const opened = openPostgres(urlOrDb, options.pool)
    return new PgAuthStore(opened.db, options.usersTable, { migrate: migrateDb, onClose: opened.close, sessionCache })
  }
  if (typeof (urlOrDb as { $client?: { query?: unknown } } | null)?.$client?.query !== 'function') {
    throw new ConfigurationError('fastify-drizzle-auth: pgStore() takes a postgres:// URL or a Drizzle node-postgres database')
  }
  return new PgAuthStore(urlOrDb, options.usersTable, { migrate: migrateDb, sessionCache })
}

async function checkUsersTable (db: PgDatabase, table: PgUsersTable): Promise<void> {
  const { name, schema = 'public' } = getTableConfig(table)
  const { rows } = await db.execute(sql`select column_name from information_schema.columns where table_schema = ${schema} and table_name = ${name}`)
  checkUsersTableInDatabase(table, rows.map((row) => String((row as { column_name: unknown }).column_name)), `${schema}.${name}`)
}

export { authUserColumns, users, sessions, refreshTokens, loginAttempts, deviceTokens, actionTokens, outbox, accounts, oauthFlows, ACTION_PURPOSES } from './schema.ts'
export type { UserRow, NewUserRow, SessionRow, RefreshTokenRow, ActionTokenRow, OutboxRow } from './schema.ts'
export { migrate } from './migrate.ts'
export type { MigrateOptions } from './migrate.ts'
export { openPostgres } from './open.ts'
export type { OpenedPostgres, PostgresPoolOptions } from './open.ts'
export { PgAuthStore } from './store.ts'
export type { PgDatabase, PgUsersTable, PgAuthStoreOptions } from './store.ts'
