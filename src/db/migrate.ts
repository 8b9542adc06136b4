import { fileURLToPath } from 'node:url'
import { migrate as drizzleMigrate } from 'drizzle-orm/better-sqlite3/migrator'
import type { SqliteDatabase } from './sqlite/store.ts'

/** The plugin's own bookkeeping table, so its migrations never collide with the application's. */
export const MIGRATIONS_TABLE = '__fastify_drizzle_auth_migrations'

const sqliteFolder = fileURLToPath(new URL('../../drizzle/sqlite', import.meta.url))
const ATTEMPTS = 5

/**
 * Applies the plugin's migrations to `db`; already-applied ones are skipped, so running it twice is a no-op.
 * Drizzle reads the applied list before it opens its transaction, so two processes starting on one new file
 * can both try the same migration: the loser fails ("already exists" or busy), and a retry sees it applied.
 */
export function migrate (db: SqliteDatabase): void {
  const run = () => { drizzleMigrate(db, { migrationsFolder: sqliteFolder, migrationsTable: MIGRATIONS_TABLE }) }
  for (let attempt = 1; attempt < ATTEMPTS; attempt++) {
    try {
      run()
      return
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50 * attempt)
    }
  }
  run() // the last attempt's error is the caller's
}
