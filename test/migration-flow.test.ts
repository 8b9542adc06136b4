/**
 * One migration flow with the application's drizzle-kit. The migrations travel inside the
 * code (identical to drizzle/); with `usersTable` no `auth_users` is made; the `fastify-drizzle-auth migrate`
 * command applies them from the application's root (drizzle-kit.test.ts: the application's own drizzle-kit).
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import { sqliteTable, text } from 'drizzle-orm/sqlite-core'
import t from 'tap'
import { runCli } from '../src/cli/run.ts'
import { migrationMeta } from '../src/db/embedded-migrations.ts'
import { MIGRATIONS as PG_MIGRATIONS } from '../src/db/pg/migrations.ts'
import { authUserColumns, migrate, openSqlite } from '../src/db/sqlite/index.ts'
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../src/db/sqlite/migrations.ts'
import { AuthService, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../src/index.ts'
import { SECRET } from './fixtures/app.ts'
import { availableDialects, createTestDatabase } from './fixtures/databases.ts'
import { tempDir } from './fixtures/temp.ts'

/** How many migrations each dialect ships. */
const SHIPPED = { sqlite: SQLITE_MIGRATIONS.length, pg: PG_MIGRATIONS.length }

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SQLITE_TABLES = ['auth_accounts', 'auth_action_tokens', 'auth_changes', 'auth_device_tokens', 'auth_login_attempts', 'auth_oauth_flows', 'auth_outbox', 'auth_refresh_tokens', 'auth_sessions', 'auth_users']

t.test('the migrations carried in the code are exactly what drizzle reads from drizzle/', async (t) => {
  for (const [dialect, embedded] of [['sqlite', SQLITE_MIGRATIONS], ['pg', PG_MIGRATIONS]] as const) {
    const fromFolder = readMigrationFiles({ migrationsFolder: join(ROOT, 'drizzle', dialect) })
    t.same(migrationMeta(embedded, false), fromFolder, `${dialect}: same statements, times and hashes`)
  }
  const check = spawnSync(process.execPath, [join(ROOT, 'scripts/embed-migrations.mjs'), '--check'], { encoding: 'utf8' })
  t.equal(check.status, 0, `embed-migrations --check: ${check.stderr}`)
})

t.test('with usersTable, the migrations make no auth_users (and without, they do)', async (t) => {
  const own = openSqlite(':memory:')
  t.teardown(own.close)
  migrate(own.db, { ownUsersTable: true })
  const tables = (db: typeof own.db) => db.$client.prepare("select name from sqlite_master where type = 'table' and name like 'auth_%' order by name").pluck().all()
  t.same(tables(own.db), SQLITE_TABLES.filter((name) => name !== 'auth_users'))
  const plain = openSqlite(':memory:')
  t.teardown(plain.close)
  migrate(plain.db)
  t.same(tables(plain.db), SQLITE_TABLES)
})

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: the service opened with usersTable does not create auth_users`, async (t) => {
    const db = await createTestDatabase(dialect)
    t.teardown(() => db.close())
    await db.query(dialect === 'sqlite'
      ? 'create table app_users (id text primary key, email text not null unique, password_hash text, is_active integer not null default 1, is_verified integer not null default 0, last_login integer, joined_at integer not null default 0, created_at integer not null default 0, updated_at integer not null default 0, nickname text)'
      : 'create table app_users (id text primary key, email text not null unique, password_hash text, is_active boolean not null default true, is_verified boolean not null default false, last_login timestamptz, joined_at timestamptz not null default now(), created_at timestamptz not null default now(), updated_at timestamptz not null default now(), nickname text)')
    const { pgTable, text: pgText } = await import('drizzle-orm/pg-core')
    const pgColumns = (await import('../src/db/pg/index.ts')).authUserColumns
    const usersTable = dialect === 'sqlite'
      ? sqliteTable('app_users', { ...authUserColumns(), nickname: text('nickname') })
      : pgTable('app_users', { ...pgColumns(), nickname: pgText('nickname') })
    const service = new AuthService({ database: db.database, secret: SECRET, usersTable })
    t.teardown(() => service.close())
    await service.ready()
    const query = dialect === 'sqlite'
      ? "select name from sqlite_master where type = 'table' and name = 'auth_users'"
      : "select tablename as name from pg_tables where tablename = 'auth_users'"
    t.same(await db.query(query), [], 'no auth_users')
    t.ok((await db.query(dialect === 'sqlite'
      ? "select name from sqlite_master where name = 'auth_sessions'"
      : "select tablename from pg_tables where tablename = 'auth_sessions'")).length === 1, 'the other tables are there')
  })
}

t.test('fastify-drizzle-auth migrate: applies, is a no-op the second time, and says what is wrong', async (t) => {
  const dir = tempDir(t, 'fda-cli-')
  const file = join(dir, 'nested', 'app.sqlite')
  const out: string[] = []
  const err: string[] = []
  const io = { out: (line: string) => { out.push(line) }, err: (line: string) => { err.push(line) } }
  t.equal(await runCli(['migrate', '--database', file], {}, io), 0)
  t.match(out.pop(), `${SHIPPED.sqlite} migration(s) applied, ${SHIPPED.sqlite} in all`)
  t.equal(await runCli(['migrate', '-d', file], {}, io), 0)
  t.match(out.pop(), `0 migration(s) applied, ${SHIPPED.sqlite} in all`)
  t.equal(await runCli(['migrate'], { DATABASE_URL: join(dir, 'env.sqlite') }, io), 0, 'DATABASE_URL when no --database')
  t.equal(await runCli(['migrate', '--database', join(dir, 'own.sqlite'), '--own-users-table'], {}, io), 0)
  const own = openSqlite(join(dir, 'own.sqlite'))
  t.same(own.db.$client.prepare("select name from sqlite_master where name = 'auth_users'").all(), [], '--own-users-table: no auth_users')
  await own.close()

  const usage: Array<[string[], Record<string, string>, RegExp]> = [
    [[], {}, /no command given/],
    [['upgrade'], {}, /unknown command 'upgrade'/],
    [['migrate'], {}, /no database: pass --database/],
    [['migrate', '--databse', 'x'], {}, /Unknown option '--databse'/],
    [['migrate', '-d', 'mysql://root@localhost/app'], {}, /mysql:\/\/ is not supported/]
  ]
  for (const [argv, env, message] of usage) {
    t.equal(await runCli(argv, env, io), 2, `${argv.join(' ')}: exit 2`)
    t.match(err.pop(), message)
  }
  t.equal(await runCli(['--help'], {}, io), 0)
  t.match(out.pop(), /Usage: fastify-drizzle-auth migrate/)
  t.equal(await runCli(['migrate', '-d', dir], {}, io), 1, 'a directory is no database: exit 1')
  t.match(err.pop(), /migrating failed/)
  const missing = Object.assign(new Error("Cannot find package 'pg' imported from x"), { code: 'ERR_MODULE_NOT_FOUND' })
  const withoutPg = { sqlite: () => import('../src/db/sqlite/index.ts'), pg: () => Promise.reject(missing) }
  t.equal(await runCli(['migrate', '-d', 'postgres://postgres@127.0.0.1/app'], {}, io, withoutPg), 2, 'a driver that is not installed: exit 2')
  t.match(err.pop(), /needs the 'pg' package: npm install pg/)
})

const NO_POSTGRES = (await availableDialects()).includes('postgresql') ? false : 'no PostgreSQL server'

t.test('fastify-drizzle-auth migrate on PostgreSQL: applied into the drizzle schema; a refusal hides the password', { skip: NO_POSTGRES }, async (t) => {
  const db = await createTestDatabase('postgresql')
  t.teardown(() => db.close())
  const out: string[] = []
  const err: string[] = []
  const io = { out: (line: string) => { out.push(line) }, err: (line: string) => { err.push(line) } }
  t.equal(await runCli(['migrate', '-d', db.url!], {}, io), 0)
  t.match(out.pop(), `${SHIPPED.pg} migration(s) applied, ${SHIPPED.pg} in all`)
  t.equal(await runCli(['migrate', '-d', db.url!], {}, io), 0)
  t.match(out.pop(), /0 migration\(s\) applied/)
  t.same(await db.query(`select count(*)::int as n from ${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`), [{ n: SHIPPED.pg }])
  const wrong = db.url!.replace('postgres@', 'postgres:hunter2-secret@').replace(/\/[^/]+$/, '/fda_no_such_database')
  t.equal(await runCli(['migrate', '-d', wrong], {}, io), 1)
  const message = err.pop()!
  t.match(message, /does not exist \(3D000\)/)
  t.notMatch(message, /hunter2/)
})

t.test('a database migrated by an older version (bookkeeping in public) is moved, not migrated twice', { skip: NO_POSTGRES }, async (t) => {
  const db = await createTestDatabase('postgresql')
  t.teardown(() => db.close())
  t.equal(await runCli(['migrate', '-d', db.url!], {}, { out: () => {}, err: () => {} }), 0)
  await db.query(`alter table ${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE} set schema public`)
  const out: string[] = []
  t.equal(await runCli(['migrate', '-d', db.url!], {}, { out: (line) => { out.push(line) }, err: () => {} }), 0)
  t.match(out.pop(), `0 migration(s) applied, ${SHIPPED.pg} in all`, 'nothing applied again')
  t.same(await db.query(`select to_regclass('public.${MIGRATIONS_TABLE}') is null as gone`), [{ gone: true }])
})
