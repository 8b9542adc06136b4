import { type Migratable, migrationMeta } from '../embedded-migrations.ts'
import { MIGRATION_ATTEMPTS, MIGRATIONS_TABLE } from '../migrations-table.ts'
import { MIGRATIONS } from './migrations.ts'
import type { SqliteDatabase } from './store.ts'

export interface MigrateOptions {
  /** The application brings its own users table (`usersTable`): the plugin's `auth_users` is not created. */
  ownUsersTable?: boolean
}

/**
 * Applies the plugin's SQLite migrations, synchronously; already-applied ones are skipped, so running it twice
 * is a no-op. Drizzle reads the applied list before it opens its transaction, so two processes starting on one
 * new file can both try the same migration: the loser fails ("already exists" or busy), and a retry sees it applied.
 */
export function migrate (db: SqliteDatabase, options: MigrateOptions = {}, attempt = 1): void {
  try {
    // What drizzle-orm/better-sqlite3/migrator does with a folder, with the migrations carried in the code.
    const drizzle = db as unknown as Migratable<void>
    drizzle.dialect.migrate(migrationMeta(MIGRATIONS, options.ownUsersTable === true), drizzle.session,
      { migrationsFolder: '', migrationsTable: MIGRATIONS_TABLE })
  } catch (err) {
    if (attempt >= MIGRATION_ATTEMPTS) throw err
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50 * attempt)
    migrate(db, options, attempt + 1)
  }
}
