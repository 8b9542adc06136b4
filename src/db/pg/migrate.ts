import { setTimeout as sleep } from 'node:timers/promises'
import { type Migratable, migrationMeta } from '../embedded-migrations.ts'
import { sql } from 'drizzle-orm'
import { LEGACY_MIGRATIONS_SCHEMA, MIGRATION_ATTEMPTS, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../migrations-table.ts'
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
    await moveLegacyTable(db)
    await drizzle.dialect.migrate(migrationMeta(MIGRATIONS, options.ownUsersTable === true), drizzle.session,
      { migrationsFolder: '', migrationsTable: MIGRATIONS_TABLE, migrationsSchema: MIGRATIONS_SCHEMA })
  } catch (err) {
    if (attempt >= MIGRATION_ATTEMPTS) throw err
    await sleep(50 * attempt)
    await migrate(db, options, attempt + 1)
  }
}

/**
 * A database migrated by an older version has the bookkeeping table in `public`, where the application's
 * drizzle-kit sees it (and its sequence): it is moved, with its rows, so nothing is applied twice.
 */
async function moveLegacyTable (db: PgDatabase): Promise<void> {
  const legacy = `${LEGACY_MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`
  const current = `${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`
  await db.execute(sql.raw(`do $$ begin
    if to_regclass('${legacy}') is not null and to_regclass('${current}') is null then
      create schema if not exists ${MIGRATIONS_SCHEMA};
      alter table ${legacy} set schema ${MIGRATIONS_SCHEMA};
    end if;
  end $$`))
}
