import { is } from 'drizzle-orm'
import { PgDatabase } from 'drizzle-orm/pg-core'
import { ConfigurationError } from '../errors.ts'
import type { AnyAuthStore } from './store.ts'

/** The service classifies store failures through the dispatcher: it reaches nothing else of src/db/ but the contract. */
export { isConnectionError } from './connection-error.ts'
/** And it asks for the hot-path lookup through the turn batch, which only the dialect stores can feed. */
export { batchTurns, type FindSession } from './turn-batch.ts'

/** What the `database` shortcut needs to become a store. */
export interface DatabaseShortcut {
  /** A file path or ':memory:', a postgres:// URL, or a Drizzle better-sqlite3 or node-postgres database. */
  database: string | object
  usersTable: object | undefined
  migrate: boolean
  postgresPool: Readonly<Record<string, unknown>>
  /** PostgreSQL only: the opt-in memory of session lookups. */
  sessionCache?: { maxStalenessMs: number }
}

export function isPostgresUrl (value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value)
}

/**
 * Resolves the `database` shortcut into a store of its dialect, loading that dialect (and its driver) only
 * now: an application on SQLite never loads `pg`, one on PostgreSQL never loads `better-sqlite3`.
 */
export async function openStore ({ database, usersTable, migrate, postgresPool, sessionCache }: DatabaseShortcut): Promise<AnyAuthStore> {
  if ((typeof database === 'string' && isPostgresUrl(database)) || is(database, PgDatabase)) {
    const { pgStore } = await loadDialect('pg', () => import('./pg/index.ts'))
    return pgStore(database as never, { usersTable: usersTable as never, migrate, pool: postgresPool, sessionCache })
  }
  const { sqliteStore } = await loadDialect('better-sqlite3', () => import('./sqlite/index.ts'))
  return sqliteStore(database as never, { usersTable: usersTable as never, migrate })
}

/** Loads a dialect; a driver that is not installed is a ConfigurationError saying which package to install. */
export async function loadDialect<T> (driver: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${driver}'`)) {
      throw new ConfigurationError(`fastify-drizzle-auth: this database needs the '${driver}' package: npm install ${driver}`)
    }
    throw err
  }
}
