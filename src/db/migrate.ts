import { fileURLToPath } from 'node:url'
import { migrate as drizzleMigrate } from 'drizzle-orm/better-sqlite3/migrator'
import type { SqliteDatabase } from './sqlite/store.ts'

/** The plugin's own bookkeeping table, so its migrations never collide with the application's. */
export const MIGRATIONS_TABLE = '__fastify_drizzle_auth_migrations'

const sqliteFolder = fileURLToPath(new URL('../../drizzle/sqlite', import.meta.url))

/** Applies the plugin's migrations to `db`; already-applied ones are skipped, so running it twice is a no-op. */
export function migrate (db: SqliteDatabase): void {
  drizzleMigrate(db, { migrationsFolder: sqliteFolder, migrationsTable: MIGRATIONS_TABLE })
}
