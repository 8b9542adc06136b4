import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'drizzle-orm'
import { ConfigurationError } from '../../errors.ts'
import { alreadyMadeElsewhere, migrationMeta } from '../embedded-migrations.ts'
import { LEGACY_MIGRATIONS_SCHEMA, MIGRATION_ATTEMPTS, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../migrations-table.ts'
import { MIGRATIONS } from './migrations.ts'
import type { PgDatabase } from './store.ts'

export interface MigrateOptions {
  /** The application brings its own users table (`usersTable`): the plugin's `auth_users` is not created. */
  ownUsersTable?: boolean
}

const TABLE = `"${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}"`
// Any constant: migrations of this package, wherever they run, take turns on one database.
const MIGRATION_LOCK = 0x66646131

/**
 * Applies the plugin's PostgreSQL migrations; already-applied ones are skipped. The bookkeeping table has
 * drizzle-kit's layout (databases migrated by earlier versions go on from where they are); the applied list is
 * read under a transaction-scoped advisory lock, so processes starting together on one database take turns.
 */
export async function migrate (db: PgDatabase, options: MigrateOptions = {}, attempt = 1): Promise<void> {
  try {
    await moveLegacyTable(db)
    await db.execute(sql.raw(`CREATE SCHEMA IF NOT EXISTS "${MIGRATIONS_SCHEMA}"`))
    await db.execute(sql.raw(`CREATE TABLE IF NOT EXISTS ${TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`))
    await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`)
      const { rows } = await tx.execute(sql.raw(`SELECT created_at FROM ${TABLE} ORDER BY created_at DESC LIMIT 1`))
      const applied = Number((rows[0] as { created_at?: unknown } | undefined)?.created_at ?? 0)
      for (const migration of migrationMeta(MIGRATIONS, options.ownUsersTable === true)) {
        if (migration.folderMillis <= applied) continue
        for (const statement of migration.sql) await run(tx, statement)
        await tx.execute(sql`INSERT INTO ${sql.raw(TABLE)} ("hash", "created_at") VALUES (${migration.hash}, ${migration.folderMillis})`)
      }
    })
  } catch (err) {
    if (err instanceof ConfigurationError || attempt >= MIGRATION_ATTEMPTS) throw err
    await sleep(50 * attempt)
    await migrate(db, options, attempt + 1)
  }
}

async function run (tx: Pick<PgDatabase, 'execute'>, statement: string): Promise<void> {
  try {
    await tx.execute(sql.raw(statement))
  } catch (err) {
    // 42P07: a relation (table or index) of that name already exists.
    // Drizzle wraps the driver's error in its own (as `cause`).
    const duplicate = [err, (err as { cause?: unknown }).cause].find((e) => (e as { code?: unknown } | undefined)?.code === '42P07') as Error | undefined
    const name = /relation "(\w+)" already exists/.exec(String(duplicate?.message))?.[1]
    throw name === undefined ? err : alreadyMadeElsewhere(name)
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
