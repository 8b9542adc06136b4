/**
 * Issue 10 item 7: one migration flow with the application's drizzle-kit. The migrations travel inside the
 * code (identical to drizzle/); with `usersTable` no `auth_users` is made; the `fastify-drizzle-auth migrate`
 * command applies them from the application's root; an application listing the plugin's tables in its own
 * drizzle-kit schema gets no DROP from `drizzle-kit push`, while one that does not would lose them.
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
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
import { PASSWORD, SECRET } from './fixtures/app.ts'
import { availableDialects, createTestDatabase, type Dialect } from './fixtures/databases.ts'
import { tempDir } from './fixtures/temp.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SQLITE_TABLES = ['auth_device_tokens', 'auth_login_attempts', 'auth_refresh_tokens', 'auth_sessions', 'auth_users']

t.test('the migrations carried in the code are exactly what drizzle reads from drizzle/', async (t) => {
  for (const [dialect, embedded] of [['sqlite', SQLITE_MIGRATIONS], ['pg', PG_MIGRATIONS]] as const) {
    const fromFolder = readMigrationFiles({ migrationsFolder: join(ROOT, 'drizzle', dialect) })
    t.same(migrationMeta(embedded, false), fromFolder, `${dialect}: same statements, times and hashes`)
  }
  const check = spawnSync(process.execPath, [join(ROOT, 'scripts/embed-migrations.mjs'), '--check'], { encoding: 'utf8' })
  t.equal(check.status, 0, `embed-migrations --check: ${check.stderr}`)
})

t.test('with usersTable, the migrations make no auth_users (and without, they do)', async (t) => {
  const appUsers = sqliteTable('app_users', { ...authUserColumns(), nickname: text('nickname') })
  const own = openSqlite(':memory:')
  t.teardown(own.close)
  migrate(own.db, { ownUsersTable: true })
  const tables = (db: typeof own.db) => db.$client.prepare("select name from sqlite_master where type = 'table' and name like 'auth_%' order by name").pluck().all()
  t.same(tables(own.db), SQLITE_TABLES.filter((name) => name !== 'auth_users'))
  const plain = openSqlite(':memory:')
  t.teardown(plain.close)
  migrate(plain.db)
  t.same(tables(plain.db), SQLITE_TABLES)
  void appUsers
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
  t.match(out.pop(), /2 migration\(s\) applied, 2 in all/)
  t.equal(await runCli(['migrate', '-d', file], {}, io), 0)
  t.match(out.pop(), /0 migration\(s\) applied, 2 in all/)
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
  t.match(err.pop(), /migrating failed: .*\(SQLITE_CANTOPEN\)|migrating failed/)
})

const NO_POSTGRES = (await availableDialects()).includes('postgresql') ? false : 'no PostgreSQL server'

t.test('fastify-drizzle-auth migrate on PostgreSQL: applied into the drizzle schema; a refusal hides the password', { skip: NO_POSTGRES }, async (t) => {
  const db = await createTestDatabase('postgresql')
  t.teardown(() => db.close())
  const out: string[] = []
  const err: string[] = []
  const io = { out: (line: string) => { out.push(line) }, err: (line: string) => { err.push(line) } }
  t.equal(await runCli(['migrate', '-d', db.url!], {}, io), 0)
  t.match(out.pop(), /2 migration\(s\) applied, 2 in all/)
  t.equal(await runCli(['migrate', '-d', db.url!], {}, io), 0)
  t.match(out.pop(), /0 migration\(s\) applied/)
  t.same(await db.query(`select count(*)::int as n from ${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`), [{ n: 2 }])
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
  t.match(out.pop(), /0 migration\(s\) applied, 2 in all/, 'nothing applied again')
  t.same(await db.query(`select to_regclass('public.${MIGRATIONS_TABLE}') is null as gone`), [{ gone: true }])
})

/** Runs the project's drizzle-kit push (auto-approving, verbose) with an application config; returns its output. */
function drizzleKitPush (dir: string, config: Record<string, unknown>): string {
  const configFile = join(dir, 'drizzle.config.mjs')
  writeFileSync(configFile, `export default ${JSON.stringify(config)}\n`)
  const run = spawnSync(process.execPath, [join(ROOT, 'node_modules/drizzle-kit/bin.cjs'), 'push', '--config', configFile, '--verbose', '--force'],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  return `${run.stdout}\n${run.stderr}`
}

// With the plugin's tables listed, plus a table of the application's own; without, only `users` (with a new
// table as well, drizzle-kit would first ask whether it is a rename, which needs a terminal).
const APP_SCHEMA: Record<Dialect, (withAuthTables: boolean) => string> = {
  sqlite: (withAuthTables) => withAuthTables
    ? [
        "import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'",
        `export { users, sessions, refreshTokens, loginAttempts, deviceTokens } from '${join(ROOT, 'src/db/sqlite/index.ts')}'`,
        "export const posts = sqliteTable('posts', { id: integer('id').primaryKey(), title: text('title').notNull() })"
      ].join('\n')
    : `export { users } from '${join(ROOT, 'src/db/sqlite/index.ts')}'`,
  postgresql: (withAuthTables) => withAuthTables
    ? [
        "import { integer, pgTable, text } from 'drizzle-orm/pg-core'",
        `export { users, sessions, refreshTokens, loginAttempts, deviceTokens } from '${join(ROOT, 'src/db/pg/index.ts')}'`,
        "export const posts = pgTable('posts', { id: integer('id').primaryKey(), title: text('title').notNull() })"
      ].join('\n')
    : `export { users } from '${join(ROOT, 'src/db/pg/index.ts')}'`
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: drizzle-kit push of an application that lists the plugin's tables proposes no DROP`, async (t) => {
    // Inside the checkout, so the schema file resolves drizzle-orm.
    const dir = tempDir(t, '.test-tmp-kit-', ROOT)
    for (const withAuthTables of [true, false]) {
      const file = join(dir, `app-${withAuthTables}.sqlite`)
      const db = dialect === 'sqlite' ? undefined : await createTestDatabase('postgresql')
      if (db !== undefined) t.teardown(() => db.close())
      const target = db?.url ?? file
      t.equal(await runCli(['migrate', '-d', target], {}, { out: () => {}, err: () => {} }), 0)
      const service = new AuthService({ database: target, secret: SECRET, bcryptRounds: 4 })
      await service.register('kept@example.com', PASSWORD)
      await service.login('kept@example.com', PASSWORD)
      await service.close()

      writeFileSync(join(dir, `schema-${withAuthTables}.ts`), APP_SCHEMA[dialect](withAuthTables))
      const output = drizzleKitPush(dir, dialect === 'sqlite'
        ? { dialect: 'sqlite', schema: join(dir, `schema-${withAuthTables}.ts`), dbCredentials: { url: file }, tablesFilter: [`!${MIGRATIONS_TABLE}`] }
        : { dialect: 'postgresql', schema: join(dir, `schema-${withAuthTables}.ts`), dbCredentials: { url: target } })
      const check = new AuthService({ database: target, secret: SECRET, bcryptRounds: 4 })
      if (withAuthTables) {
        t.match(output, /CREATE TABLE .posts./, "the application's own table is created")
        t.notMatch(output, /DROP/, 'no DROP of any kind')
        t.match(await check.login('kept@example.com', PASSWORD), { tokenType: 'bearer' }, 'the account and its tables are intact')
      } else {
        t.match(output, /DROP TABLE .auth_sessions./, 'without them in the schema, push drops the plugin\'s tables (what the listing prevents)')
      }
      await check.close().catch(() => {})
    }
  })
}
