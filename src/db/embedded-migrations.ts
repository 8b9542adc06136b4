import { createHash } from 'node:crypto'

/** One drizzle-kit migration, carried as text inside the package (see scripts/embed-migrations.mjs). */
export interface EmbeddedMigration {
  readonly tag: string
  readonly when: number
  readonly breakpoints: boolean
  readonly sql: string
}

/** What drizzle's migrators read from a migrations folder; here it comes from the embedded text instead. */
export interface MigrationMeta {
  sql: string[]
  folderMillis: number
  hash: string
  bps: boolean
}

/** The part of a Drizzle database its own `migrate()` functions use: the dialect's migrator and the session. */
export interface Migratable<R> {
  dialect: { migrate: (migrations: MigrationMeta[], session: unknown, config: MigratorConfig) => R }
  session: unknown
}

export interface MigratorConfig {
  migrationsFolder: string
  migrationsTable: string
  migrationsSchema?: string
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
