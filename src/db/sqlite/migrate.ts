import { fileURLToPath } from 'node:url'
import { migrate as drizzleMigrate } from 'drizzle-orm/better-sqlite3/migrator'
import { MIGRATION_ATTEMPTS, MIGRATIONS_TABLE } from '../migrations-table.ts'
import type { SqliteDatabase } from './store.ts'

const folder = fileURLToPath(new URL('../../../drizzle/sqlite', import.meta.url))

/**
 * Applies the plugin's SQLite migrations, synchronously; already-applied ones are skipped, so running it twice
 * is a no-op. Drizzle reads the applied list before it opens its transaction, so two processes starting on one
 * new file can both try the same migration: the loser fails ("already exists" or busy), and a retry sees it applied.
 */
export function migrate (db: SqliteDatabase, attempt = 1): void {
  try {
    drizzleMigrate(db, { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE })
  } catch (err) {
    if (attempt >= MIGRATION_ATTEMPTS) throw err
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50 * attempt)
    migrate(db, attempt + 1)
  }
}
