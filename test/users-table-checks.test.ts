/**
 * An application's users table is checked once: its Drizzle declaration when the options are read (the
 * plugin's columns with their types, no column request.user would hide), and the table in the database when
 * the store opens (it exists, with every declared column), each failure saying what to do.
 */
import { boolean as pgBoolean, pgTable, text as pgText } from 'drizzle-orm/pg-core'
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import Fastify from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, { AuthService, type FastifyDrizzleAuthOptions } from '../src/index.ts'
import { authUserColumns as pgUserColumns } from '../src/db/pg/index.ts'
import { authUserColumns as sqliteUserColumns } from '../src/db/sqlite/index.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'
import { availableDialects, createTestDatabase } from './fixtures/databases.ts'

t.test('a users table not built from authUserColumns() fails ready() naming what is missing or mistyped, and how to build it', async (t) => {
  const { id, email } = sqliteUserColumns()
  const handMade = sqliteTable('people', { id, email, isActive: text('is_active') })
  const app = Fastify()
  await t.rejects(async () => {
    await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, usersTable: handMade } as FastifyDrizzleAuthOptions)
    await app.ready()
  }, {
    name: 'ConfigurationError',
    message: /`usersTable` is not a users table the plugin can use \('passwordHash' is missing; 'isActive' is a string, not a boolean; .*\): build it from the plugin's columns, e\.g\. sqliteTable\('app_users', \{ \.\.\.authUserColumns\(\)/
  })
  await app.close().catch(() => {})
})

t.test('a column request.user would shadow is refused with a rename to use', async (t) => {
  for (const [name, rename] of [['displayName', 'fullName'], ['isAuthenticated', 'isAuthenticatedFlag']]) {
    const table = sqliteTable('app_users', { ...sqliteUserColumns(), [name]: text('x') })
    t.throws(() => new AuthService({ database: ':memory:', secret: SECRET, usersTable: table }), {
      name: 'ConfigurationError', message: new RegExp(`a column '${name}', which request.user sets itself .*rename the property, e.g. '${rename}'`)
    })
  }
})

for (const dialect of await availableDialects()) {
  const declared = dialect === 'sqlite'
    ? sqliteTable('app_users', { ...sqliteUserColumns(), nickname: text('nickname'), rank: integer('rank') })
    : pgTable('app_users', { ...pgUserColumns(), nickname: pgText('nickname'), vip: pgBoolean('vip') })

  t.test(`${dialect}: a users table the database lacks, or lacks a column of, is named when the store opens`, async (t) => {
    const db = await createTestDatabase(dialect)
    t.teardown(() => db.close())
    const service = new AuthService({ database: db.database, secret: SECRET, bcryptRounds: 4, usersTable: declared as never })
    await t.rejects(service.ready(), { name: 'ConfigurationError', message: /the users table '(public\.)?app_users' does not exist in this database: create it with your own migrations/ })
    await service.close().catch(() => {})

    const [stamp, now] = dialect === 'sqlite' ? ['integer', '0'] : ['timestamptz', 'now()']
    await db.query(`create table app_users (id text primary key, email text not null unique, password_hash text, is_active ${dialect === 'sqlite' ? 'integer' : 'boolean'} not null default ${dialect === 'sqlite' ? '1' : 'true'}, ` +
      `is_verified ${dialect === 'sqlite' ? 'integer' : 'boolean'} not null default ${dialect === 'sqlite' ? '0' : 'false'}, last_login ${dialect === 'sqlite' ? 'integer' : 'timestamptz'}, ` +
      `joined_at ${stamp} not null default ${now}, created_at ${stamp} not null default ${now}, updated_at ${stamp} not null default ${now}, nickname text)`)
    const partial = new AuthService({ database: db.database, secret: SECRET, bcryptRounds: 4, usersTable: declared as never })
    await t.rejects(partial.ready(), { name: 'ConfigurationError', message: new RegExp(`has no column '${dialect === 'sqlite' ? 'rank' : 'vip'}': apply the migration that adds it`) })
    await partial.close().catch(() => {})

    await db.query(`alter table app_users add column ${dialect === 'sqlite' ? 'rank integer' : 'vip boolean'}`)
    const whole = new AuthService({ database: db.database, secret: SECRET, bcryptRounds: 4, usersTable: declared as never })
    t.teardown(() => whole.close())
    await whole.ready()
    t.match(await whole.register('fits@example.com', PASSWORD), { email: 'fits@example.com' }, 'a table that matches its declaration is used')
  })
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: a plugin table another migration made is named with the recipe; any other migration failure passes through`, async (t) => {
    const taken = await createTestDatabase(dialect)
    t.teardown(() => taken.close())
    await taken.query('create table auth_sessions (id text primary key)')
    const service = new AuthService({ database: taken.database, secret: SECRET })
    await t.rejects(service.ready(), { name: 'ConfigurationError', message: /its migration cannot create `auth_sessions`: it already exists, made by another migration .*tablesFilter/ })
    await service.close().catch(() => {})
    // A view (SQLite) or a domain (PostgreSQL) of that name is in the way: no table a migration made, so the
    // database's own error stands.
    const typed = await createTestDatabase(dialect)
    t.teardown(() => typed.close())
    await typed.query(dialect === 'sqlite' ? 'create view auth_sessions as select 1 as x' : 'create domain auth_sessions as integer')
    const other = new AuthService({ database: typed.database, secret: SECRET })
    const err = await other.ready().then(() => undefined, (e: unknown) => e as Error)
    await other.close().catch(() => {})
    t.ok(err !== undefined && err.name !== 'ConfigurationError', `the database's error, not the recipe (${String(err)})`)
  })
}
