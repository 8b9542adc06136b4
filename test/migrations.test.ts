import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { tempDir } from './fixtures/temp.ts'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import pg from 'pg'
import { createTestDatabase, requirePostgres } from './fixtures/databases.ts'
import { readFileSync } from 'node:fs'
import { getTableConfig } from 'drizzle-orm/sqlite-core'
import { getTableConfig as getPgTableConfig } from 'drizzle-orm/pg-core'
import * as pgTables from '../src/db/pg/index.ts'
import { MIGRATIONS_TABLE } from '../src/index.ts'
import { migrate, openSqlite } from '../src/db/sqlite/index.ts'
import { accounts, actionTokens, deviceTokens, loginAttempts, oauthFlows, outbox, refreshTokens, sessions } from '../src/db/sqlite/index.ts'

t.test('migrate(db) creates the tables in its own migrations table, and a second run is a no-op', async (t) => {
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  // The application's own Drizzle migrations table stays untouched.
  db.run(sql`create table __drizzle_migrations (id integer primary key, hash text not null, created_at numeric)`)
  migrate(db)
  const tables = db.$client.prepare("select name from sqlite_master where type = 'table' order by name").pluck().all()
  t.same(tables.filter((name: unknown) => String(name).startsWith('auth_')), ['auth_accounts', 'auth_action_tokens', 'auth_changes', 'auth_device_tokens', 'auth_login_attempts', 'auth_oauth_flows', 'auth_outbox', 'auth_refresh_tokens', 'auth_sessions', 'auth_users'])
  t.ok(tables.includes(MIGRATIONS_TABLE))
  const applied = db.$client.prepare(`select count(*) from ${MIGRATIONS_TABLE}`).pluck().get()
  t.equal(applied, readdirSync(new URL('../drizzle/sqlite', import.meta.url)).filter((f) => f.endsWith('.sql')).length, 'every shipped migration')
  t.equal(db.$client.prepare('select count(*) from __drizzle_migrations').pluck().get(), 0, "the application's table is not used")
  migrate(db)
  t.equal(db.$client.prepare(`select count(*) from ${MIGRATIONS_TABLE}`).pluck().get(), applied, 'running it twice is a no-op')
})

t.test('the change triggers ship in the migrations, as the generators the stores re-install them with write them', async (t) => {
  const { TRIGGER_MIGRATIONS, migrationText } = await import('../scripts/trigger-migrations.ts')
  for (const [file, statements] of Object.entries(TRIGGER_MIGRATIONS)) {
    t.equal(readFileSync(new URL(`../${file}`, import.meta.url), 'utf8'), migrationText(statements), `${file} is current (npx tsx scripts/trigger-migrations.ts)`)
  }
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  migrate(db)
  const triggers = db.$client.prepare("select name from sqlite_master where type = 'trigger' order by name").pluck().all()
  t.same(triggers, ['auth_sessions_fda_deleted', 'auth_sessions_fda_replaced', 'auth_sessions_fda_updated', 'auth_users_fda_deleted', 'auth_users_fda_inserted', 'auth_users_fda_updated'],
    'in place after migrate alone, before any store opens')
  db.$client.prepare("insert into auth_users (id, email, joined_at, created_at, updated_at) values ('u', 'u@example.com', 0, 0, 0)").run()
  t.equal(db.$client.prepare('select version from auth_changes where id = 1').pluck().get(), 1, 'and they move the version')
})

t.test('a database opened by the plugin uses WAL, busy_timeout and foreign keys', async (t) => {
  const dir = tempDir(t, 'fda-mig-')
  const { db, close } = openSqlite(join(dir, 'a.sqlite'))
  t.teardown(close)
  t.equal(db.$client.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(db.$client.pragma('busy_timeout', { simple: true }), 5000)
  t.equal(db.$client.pragma('foreign_keys', { simple: true }), 1)
  t.equal(db.$client.pragma('mmap_size', { simple: true }), 268435456)
  t.equal(db.$client.pragma('cache_size', { simple: true }), -32768)
  const memory = openSqlite(':memory:')
  t.teardown(memory.close)
  t.equal(memory.db.$client.pragma('foreign_keys', { simple: true }), 1)
})

t.test('the generated SQL is committed under drizzle/sqlite', async (t) => {
  const { readdirSync, readFileSync } = await import('node:fs')
  const folder = new URL('../drizzle/sqlite/', import.meta.url)
  const files = readdirSync(folder).filter((f) => f.endsWith('.sql'))
  t.ok(files.length >= 1)
  const journal = JSON.parse(readFileSync(new URL('meta/_journal.json', folder), 'utf8'))
  t.equal(journal.dialect, 'sqlite')
  t.equal(journal.entries.length, files.length, 'every SQL file is in the journal')
})

t.test('every lookup path has an index, in the schema and in the migrated database', async (t) => {
  const expected: Record<string, string[]> = {
    auth_sessions_user_id_idx: ['user_id'],
    auth_sessions_expires_at_idx: ['expires_at'],
    auth_refresh_tokens_session_idx: ['session_id', 'generation'],
    auth_login_attempts_reset_at_idx: ['reset_at'],
    auth_device_tokens_user_id_idx: ['user_id'],
    auth_device_tokens_expires_at_idx: ['expires_at'],
    auth_action_tokens_user_idx: ['user_id', 'purpose'],
    auth_action_tokens_email_idx: ['email'],
    auth_action_tokens_expires_at_idx: ['expires_at'],
    auth_outbox_available_at_idx: ['available_at'],
    auth_accounts_provider_subject_idx: ['provider', 'subject'],
    auth_accounts_user_provider_idx: ['user_id', 'provider'],
    auth_oauth_flows_expires_at_idx: ['expires_at']
  }
  const declared = [sessions, refreshTokens, loginAttempts, deviceTokens, actionTokens, outbox, accounts, oauthFlows].flatMap((table) => getTableConfig(table).indexes)
  t.same(Object.fromEntries(declared.map((i) => [i.config.name, i.config.columns.map((c) => (c as { name: string }).name)])), expected)
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  migrate(db)
  for (const [name, columns] of Object.entries(expected)) {
    t.same(db.$client.prepare(`select name from pragma_index_info('${name}')`).pluck().all(), columns, name)
  }
  const [fk] = getTableConfig(refreshTokens).foreignKeys
  const reference = fk.reference()
  t.same([reference.columns[0].name, getTableConfig(reference.foreignTable).name, fk.onDelete], ['session_id', 'auth_sessions', 'cascade'],
    'refresh tokens go with their session')
  const plan = db.$client.prepare('explain query plan select * from auth_sessions join auth_users on auth_users.id = auth_sessions.user_id where auth_sessions.id = ?').all('x')
  t.match(JSON.stringify(plan), /USING INDEX sqlite_autoindex_auth_sessions_1|USING PRIMARY KEY/, 'the hot lookup is an index search')
})

t.test('the PostgreSQL tables declare the same indexes and a cascading foreign key', async (t) => {
  const declared = [pgTables.sessions, pgTables.refreshTokens, pgTables.loginAttempts, pgTables.deviceTokens, pgTables.actionTokens, pgTables.outbox, pgTables.accounts, pgTables.oauthFlows]
    .flatMap((table) => getPgTableConfig(table).indexes)
  t.same(declared.map((i) => i.config.name).sort(), [
    'auth_accounts_provider_subject_idx', 'auth_accounts_user_provider_idx', 'auth_action_tokens_email_idx', 'auth_action_tokens_expires_at_idx', 'auth_action_tokens_user_idx',
    'auth_device_tokens_expires_at_idx', 'auth_device_tokens_user_id_idx', 'auth_login_attempts_reset_at_idx',
    'auth_oauth_flows_expires_at_idx', 'auth_outbox_available_at_idx', 'auth_refresh_tokens_session_idx', 'auth_sessions_expires_at_idx', 'auth_sessions_user_id_idx'
  ])
  const [fk] = getPgTableConfig(pgTables.refreshTokens).foreignKeys
  t.equal(getPgTableConfig(fk.reference().foreignTable).name, 'auth_sessions')
  t.equal(fk.onDelete, 'cascade')
  const journal = JSON.parse(readFileSync(new URL('../drizzle/pg/meta/_journal.json', import.meta.url), 'utf8'))
  t.equal(journal.dialect, 'postgresql')
})

t.test('PostgreSQL: a migration that fails for a passing reason is tried again and completes', async (t) => {
  if (!await requirePostgres()) return
  const db = await createTestDatabase('postgresql')
  const pool = new pg.Pool({ connectionString: db.url, max: 1 })
  t.teardown(async () => { await pool.end(); await db.close() })
  const database = drizzlePg(pool)
  // The first statement fails as a dropped connection would; the real database answers every later one.
  let failures = 1
  const flaky = new Proxy(database, {
    get (target, property, receiver) {
      if (property === 'execute' && failures > 0) {
        return async () => { failures--; throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' }) }
      }
      return Reflect.get(target, property, receiver) as unknown
    }
  })
  await pgTables.migrate(flaky)
  t.equal(failures, 0, 'the first attempt failed')
  const tables = await db.query("select table_name from information_schema.tables where table_schema = 'public' and table_name = 'auth_sessions'")
  t.equal(tables.length, 1, 'the second attempt made the tables')
})
