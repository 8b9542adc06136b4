import type Database from 'better-sqlite3'
import { alreadyMadeElsewhere, migrationMeta } from '../embedded-migrations.ts'
import { MIGRATIONS_TABLE } from '../migrations-table.ts'
import { MIGRATIONS } from './migrations.ts'
import type { SqliteDatabase } from './store.ts'

export interface MigrateOptions {
  /** The application brings its own users table (`usersTable`): the plugin's `auth_users` is not created. */
  ownUsersTable?: boolean
}

/**
 * Applies the plugin's SQLite migrations, synchronously; already-applied ones are skipped, so running it twice
 * is a no-op. The bookkeeping table has drizzle-kit's layout (databases migrated by earlier versions go on from
 * where they are), and the applied list is read inside the write transaction that applies the rest, so two
 * processes starting on one new file take turns instead of racing (the connection's busy timeout, 5 s by default
 * in better-sqlite3, is how long one waits for the other).
 */
export function migrate (db: SqliteDatabase, options: MigrateOptions = {}): void {
  const client = (db as unknown as { $client: Database.Database }).$client
  client.exec(`CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`)
  const last = client.prepare(`SELECT created_at FROM "${MIGRATIONS_TABLE}" ORDER BY created_at DESC LIMIT 1`).pluck()
  const record = client.prepare(`INSERT INTO "${MIGRATIONS_TABLE}" ("hash", "created_at") VALUES (?, ?)`)
  client.transaction(() => {
    const applied = Number(last.get() ?? 0)
    for (const migration of migrationMeta(MIGRATIONS, options.ownUsersTable === true)) {
      if (migration.folderMillis <= applied) continue
      for (const statement of migration.sql) run(client, statement)
      record.run(migration.hash, migration.folderMillis)
    }
  }).immediate()
}

function run (client: Database.Database, statement: string): void {
  try {
    client.exec(statement)
  } catch (err) {
    const name = /^(?:table|index) [`"]?([\w]+)[`"]? already exists/.exec((err as Error).message)?.[1]
    throw name === undefined ? err : alreadyMadeElsewhere(name)
  }
}
