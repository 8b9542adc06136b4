import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { migrate as drizzleMigrate } from 'drizzle-orm/node-postgres/migrator'
import { MIGRATION_ATTEMPTS, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../migrations-table.ts'
import type { PgDatabase } from './store.ts'

const folder = fileURLToPath(new URL('../../../drizzle/pg', import.meta.url))

/**
 * Applies the plugin's PostgreSQL migrations; already-applied ones are skipped. Two processes starting on one
 * new database can both try the same migration: the loser fails and a retry sees it applied.
 */
export async function migrate (db: PgDatabase, attempt = 1): Promise<void> {
  try {
    await drizzleMigrate(db, { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE, migrationsSchema: MIGRATIONS_SCHEMA })
  } catch (err) {
    if (attempt >= MIGRATION_ATTEMPTS) throw err
    await sleep(50 * attempt)
    await migrate(db, attempt + 1)
  }
}
