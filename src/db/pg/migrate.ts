import { setTimeout as sleep } from 'node:timers/promises'
import { type Migratable, migrationMeta } from '../embedded-migrations.ts'
import { MIGRATION_ATTEMPTS, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../migrations-table.ts'
import { MIGRATIONS } from './migrations.ts'
import type { PgDatabase } from './store.ts'

export interface MigrateOptions {
  /** The application brings its own users table (`usersTable`): the plugin's `auth_users` is not created. */
  ownUsersTable?: boolean
}

/**
 * Applies the plugin's PostgreSQL migrations; already-applied ones are skipped. Two processes starting on one
 * new database can both try the same migration: the loser fails and a retry sees it applied.
 */
export async function migrate (db: PgDatabase, options: MigrateOptions = {}, attempt = 1): Promise<void> {
  try {
    // What drizzle-orm/node-postgres/migrator does with a folder, with the migrations carried in the code.
    const drizzle = db as unknown as Migratable<Promise<void>>
    await drizzle.dialect.migrate(migrationMeta(MIGRATIONS, options.ownUsersTable === true), drizzle.session,
      { migrationsFolder: '', migrationsTable: MIGRATIONS_TABLE, migrationsSchema: MIGRATIONS_SCHEMA })
  } catch (err) {
    if (attempt >= MIGRATION_ATTEMPTS) throw err
    await sleep(50 * attempt)
    await migrate(db, options, attempt + 1)
  }
}
