/**
 * Extra user columns the database constrains: a NOT NULL column without a default is required by /register's
 * schema and by AuthService.register (400 naming it, never a 503), and a value the table refuses (a taken
 * unique column, a CHECK, a foreign key) is a 4xx with a code, on both dialects.
 */
import { check as pgCheck, integer as pgInteger, pgTable, text as pgText } from 'drizzle-orm/pg-core'
import { check, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { sql } from 'drizzle-orm'
import Fastify from 'fastify'
import fastifySwagger from '@fastify/swagger'
import t from 'tap'
import fastifyDrizzleAuth, { AuthService, type FastifyDrizzleAuthOptions } from '../src/index.ts'
import { authUserColumns as pgUserColumns } from '../src/db/pg/index.ts'
import { authUserColumns as sqliteUserColumns } from '../src/db/sqlite/index.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'
import { availableDialects, createTestDatabase, type Dialect, type TestDatabase } from './fixtures/databases.ts'

const sqliteUsers = sqliteTable('app_users', {
  ...sqliteUserColumns(), nickname: text('nickname').notNull(), handle: text('handle').unique(), backupEmail: text('backup_email').unique(), age: integer('age'), teamId: integer('team_id')
}, (table) => [check('adult', sql`${table.age} >= 13`)])
const pgUsers = pgTable('app_users', {
  ...pgUserColumns(), nickname: pgText('nickname').notNull(), handle: pgText('handle').unique(), backupEmail: pgText('backup_email').unique(), age: pgInteger('age'), teamId: pgInteger('team_id')
}, (table) => [pgCheck('adult', sql`${table.age} >= 13`)])

const DDL: Record<Dialect, string[]> = {
  sqlite: ['create table teams (id integer primary key)', 'insert into teams (id) values (1)', `create table app_users (
    id text primary key not null, email text not null unique, password_hash text,
    is_active integer not null default 1, is_verified integer not null default 0, last_login integer,
    joined_at integer not null default (cast(unixepoch('subsecond') * 1000 as integer)),
    created_at integer not null default (cast(unixepoch('subsecond') * 1000 as integer)),
    updated_at integer not null default (cast(unixepoch('subsecond') * 1000 as integer)),
    nickname text not null, handle text unique, backup_email text unique, age integer constraint adult check (age >= 13), team_id integer references teams(id))`],
  postgresql: ['create table teams (id integer primary key)', 'insert into teams (id) values (1)', `create table app_users (
    id text primary key not null, email text not null unique, password_hash text,
    is_active boolean not null default true, is_verified boolean not null default false, last_login timestamp(3) with time zone,
    joined_at timestamp(3) with time zone not null default now(), created_at timestamp(3) with time zone not null default now(),
    updated_at timestamp(3) with time zone not null default now(),
    nickname text not null, handle text unique, backup_email text unique, age integer constraint adult check (age >= 13), team_id integer references teams(id))`]
}

const FIELDS = { nickname: { type: 'string' }, handle: { type: 'string' }, backupEmail: { type: 'string' }, age: { type: 'integer' }, teamId: { type: 'integer' } }

async function appDatabase (dialect: Dialect): Promise<TestDatabase> {
  const db = await createTestDatabase(dialect)
  for (const statement of DDL[dialect]) await db.query(statement)
  return db
}

for (const dialect of await availableDialects()) {
  const usersTable = dialect === 'sqlite' ? sqliteUsers : pgUsers

  t.test(`${dialect}: a NOT NULL column is required by /register's schema, and every refusal of the table is a 4xx`, async (t) => {
    const db = await appDatabase(dialect)
    const app = Fastify()
    await app.register(fastifySwagger, { openapi: { info: { title: 'app', version: '1' } } })
    await app.register(fastifyDrizzleAuth, {
      database: db.database, secret: SECRET, bcryptRounds: 4, usersTable, routes: { registerFields: FIELDS, registerRequired: ['handle'] }
    } as FastifyDrizzleAuthOptions)
    t.teardown(async () => { await app.close(); await db.close() })
    await app.ready()
    const register = (extra: Record<string, unknown>, email = 'a@example.com') =>
      app.inject({ method: 'POST', url: '/register', payload: { email, password: PASSWORD, ...extra } })

    const missing = await register({ handle: 'a' })
    t.equal(missing.statusCode, 400, 'a required column left out is the caller\'s mistake')
    t.match(missing.json().detail, /nickname/)
    t.equal((await register({ nickname: 'A' })).statusCode, 400, 'registerRequired adds a column to the required ones')

    const ok = await register({ nickname: 'A', handle: 'a', backup_email: 'spare@example.com', age: 20, team_id: 1 })
    t.equal(ok.statusCode, 201)
    t.same(ok.json(), { id: ok.json().id, email: 'a@example.com', is_verified: false, nickname: 'A', handle: 'a', backup_email: 'spare@example.com', age: 20, team_id: 1 }, 'the 201 echoes what was registered, under snake_case keys')

    const cases: Array<[Record<string, unknown>, number, string, RegExp]> = [
      [{ nickname: 'B', handle: 'a' }, 409, 'field_taken', /`handle` is already taken/],
      [{ nickname: 'B', handle: 'b', backup_email: 'spare@example.com' }, 409, 'field_taken', /`backup_email` is already taken/],
      [{ nickname: 'B', handle: 'b', age: 9 }, 400, 'invalid_field', /breaks a check of the users table/],
      [{ nickname: 'B', handle: 'b', team_id: 99 }, 400, 'invalid_field', /names a row that does not exist/]
    ]
    for (const [extra, status, code, detail] of cases) {
      const res = await register(extra, 'b@example.com')
      t.equal(res.statusCode, status, JSON.stringify(extra))
      t.equal(res.json().code, code)
      t.match(res.json().detail, detail)
    }
    t.equal((await register({ nickname: 'A', handle: 'c' })).json().code, 'email_taken', 'the email taken is still email_taken')
    const document = app.swagger() as { paths: Record<string, { post: { requestBody: { content: Record<string, { schema: { required: string[] } }> } } }> }
    t.same(document.paths['/register'].post.requestBody.content['application/json'].schema.required, ['email', 'password', 'nickname', 'handle'], 'OpenAPI shows the required columns')
  })

  t.test(`${dialect}: AuthService.register names a missing required column before hashing, with a 400`, async (t) => {
    const db = await appDatabase(dialect)
    const service = new AuthService({ database: db.database, secret: SECRET, bcryptRounds: 4, usersTable })
    t.teardown(async () => { await service.close(); await db.close() })
    await service.ready()
    await t.rejects(service.register('s@example.com', PASSWORD, { handle: 's' } as never), { code: 'invalid_field', statusCode: 400, message: /Required, as NOT NULL columns of the users table without a default: `fields\.nickname`/ })
    t.equal(Number((await db.query('select count(*) as n from app_users'))[0].n), 0, 'nothing written')
    t.match(await service.register('s@example.com', PASSWORD, { nickname: 'S' } as never), { email: 's@example.com' })
  })
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: with a store given directly (its table unknown to the service), the database's own NOT NULL refusal is still a 400 naming the column`, async (t) => {
    const db = await appDatabase(dialect)
    const { sqliteStore } = await import('../src/db/sqlite/index.ts')
    const { pgStore } = await import('../src/db/pg/index.ts')
    const store = dialect === 'sqlite' ? sqliteStore(db.database, { usersTable: sqliteUsers }) : pgStore(db.url!, { usersTable: pgUsers })
    const service = new AuthService({ store, secret: SECRET, bcryptRounds: 4 })
    t.teardown(async () => { await service.close(); await db.close() })
    await service.ready()
    await t.rejects(service.register('direct@example.com', PASSWORD), { code: 'invalid_field', statusCode: 400, message: /`nickname` is required/ })
  })
}

t.test('a NOT NULL column without a default that /register cannot take fails ready() naming it', async (t) => {
  const app = Fastify()
  await t.rejects(async () => {
    await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, usersTable: sqliteUsers, migrate: false, routes: { registerFields: { handle: { type: 'string' } } } } as FastifyDrizzleAuthOptions)
    await app.ready()
  }, { name: 'ConfigurationError', message: /column 'nickname' is NOT NULL without a default, so \/register must take it: add it to `routes.registerFields`/ })
  await app.close().catch(() => {})
  const other = Fastify()
  await t.rejects(async () => {
    await other.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, usersTable: sqliteUsers, migrate: false, routes: { registerFields: { nickname: { type: 'string' } }, registerRequired: ['age'] } } as FastifyDrizzleAuthOptions)
    await other.ready()
  }, { message: /`routes.registerRequired`: 'age' is not among `routes.registerFields`/ })
  await other.close().catch(() => {})
  const listed = Fastify()
  await t.rejects(async () => {
    await listed.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, usersTable: sqliteUsers, migrate: false, routes: { registerFields: { nickname: { type: 'string' } }, registerRequired: 'nickname' } } as never)
    await listed.ready()
  }, { message: /`routes.registerRequired` must be an array of registerFields names/ })
  await listed.close().catch(() => {})
})
