import { createHash } from 'node:crypto'
import { ConfigurationError } from '../errors.ts'

/** One drizzle-kit migration, carried as text inside the package (see scripts/embed-migrations.mjs). */
export interface EmbeddedMigration {
  readonly tag: string
  readonly when: number
  readonly breakpoints: boolean
  readonly sql: string
}

/** One migration as drizzle-kit's migrators read it from a folder; here it comes from the embedded text instead. */
export interface MigrationMeta {
  sql: string[]
  folderMillis: number
  hash: string
  bps: boolean
}

const BREAKPOINT = '--> statement-breakpoint'
// The statements that create the plugin's own users table or its indexes, in either dialect's quoting.
const USERS_TABLE_STATEMENT = /CREATE TABLE [`"]auth_users[`"]|\bON [`"]auth_users[`"]/

/**
 * The migrations as drizzle's migrators expect them, as drizzle's own folder reader would build them (same
 * statements, same hash of the file's text). With the application's own users table, the statements that
 * create `auth_users` are left out: that table would never be used.
 */
export function migrationMeta (migrations: readonly EmbeddedMigration[], appUsersTable: boolean): MigrationMeta[] {
  return migrations.map((migration) => ({
    sql: migration.sql.split(BREAKPOINT).filter((statement) => !(appUsersTable && USERS_TABLE_STATEMENT.test(statement))),
    bps: migration.breakpoints,
    folderMillis: migration.when,
    hash: createHash('sha256').update(migration.sql).digest('hex')
  }))
}

/**
 * A plugin table that another migration already made: an application schema that re-exports the plugin's
 * tables, run through `drizzle-kit generate` and applied, does that. Says which recipe to follow instead.
 */
export function alreadyMadeElsewhere (name: string): ConfigurationError {
  return new ConfigurationError(
    `fastify-drizzle-auth: its migration cannot create \`${name}\`: it already exists, made by another migration ` +
    '(an application schema that lists the plugin\'s tables, then drizzle-kit generate?). Keep the plugin\'s tables out of ' +
    "your drizzle-kit schema and filter them in drizzle.config.ts with tablesFilter: ['!auth_*', '!__fastify_drizzle_auth_migrations'] " +
    '(README: Migrations in your app); then drop the auth_* tables that migration made, and the plugin makes them on its next start'
  )
}
