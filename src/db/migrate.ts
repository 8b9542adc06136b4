import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { is } from 'drizzle-orm'
import { migrate as sqliteMigrate } from 'drizzle-orm/better-sqlite3/migrator'
import { migrate as pgMigrate } from 'drizzle-orm/node-postgres/migrator'
import { PgDatabase as PgDatabaseClass } from 'drizzle-orm/pg-core'
import type { PgDatabase } from './pg/store.ts'
import type { SqliteDatabase } from './sqlite/store.ts'

/** The plugin's own bookkeeping table, so its migrations never collide with the application's. */
export const MIGRATIONS_TABLE = '__fastify_drizzle_auth_migrations'
/** Where that table lives on PostgreSQL (the same in drizzle.config.ts). */
export const MIGRATIONS_SCHEMA = 'public'

const folder = (dialect: string) => fileURLToPath(new URL(`../../drizzle/${dialect}`, import.meta.url))
const ATTEMPTS = 5

export function isPgDatabase (db: unknown): db is PgDatabase {
  return is(db, PgDatabaseClass)
}

/**
 * Applies the plugin's migrations; already-applied ones are skipped, so running it twice is a no-op. The dialect
 * is read from `db`: SQLite migrates synchronously, PostgreSQL returns a promise.
 * Drizzle reads the applied list before it opens its transaction, so two processes starting on one new database
 * can both try the same migration: the loser fails ("already exists" or busy), and a retry sees it applied.
 */
export function migrate (db: SqliteDatabase): void
export function migrate (db: PgDatabase): Promise<void>
export function migrate (db: SqliteDatabase | PgDatabase): void | Promise<void> {
  return isPgDatabase(db) ? migratePostgres(db) : migrateSqlite(db)
}

function migrateSqlite (db: SqliteDatabase, attempt = 1): void {
  try {
    sqliteMigrate(db, { migrationsFolder: folder('sqlite'), migrationsTable: MIGRATIONS_TABLE })
  } catch (err) {
    if (attempt >= ATTEMPTS) throw err
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50 * attempt)
    migrateSqlite(db, attempt + 1)
  }
}

async function migratePostgres (db: PgDatabase, attempt = 1): Promise<void> {
  try {
    await pgMigrate(db, { migrationsFolder: folder('pg'), migrationsTable: MIGRATIONS_TABLE, migrationsSchema: MIGRATIONS_SCHEMA })
  } catch (err) {
    if (attempt >= ATTEMPTS) throw err
    await sleep(50 * attempt)
    await migratePostgres(db, attempt + 1)
  }
}
