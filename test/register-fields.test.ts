/**
 * Extra user columns through the bundled /register (`routes.registerFields`) and /me (`routes.meFields`), on
 * both dialects, under snake_case JSON keys like every other key the routes use; everything else in the body is still refused; a misspelled column
 * given to AuthService.register() is refused too (and a compile error: see test/fixtures/consumer/app.ts).
 */
import { integer as pgInteger, pgTable, text as pgText } from 'drizzle-orm/pg-core'
import { blob, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import Fastify from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, { AuthService, ConfigurationError, InvalidArgumentError, type FastifyDrizzleAuthOptions } from '../src/index.ts'
import { authUserColumns as pgUserColumns } from '../src/db/pg/index.ts'
import { authUserColumns as sqliteUserColumns } from '../src/db/sqlite/index.ts'
import { PASSWORD, SECRET, bearer } from './fixtures/app.ts'
import { availableDialects, createTestDatabase, type Dialect, type TestDatabase } from './fixtures/databases.ts'

const sqliteUsers = sqliteTable('app_users', { ...sqliteUserColumns(), nickname: text('nickname'), age: integer('age') })
const pgUsers = pgTable('app_users', { ...pgUserColumns(), nickname: pgText('nickname'), age: pgInteger('age') })

const DDL: Record<Dialect, string> = {
  sqlite: `create table app_users (
    id text primary key not null, email text not null unique, password_hash text,
    is_active integer not null default 1, is_verified integer not null default 0, last_login integer,
    joined_at integer not null default (cast(unixepoch('subsecond') * 1000 as integer)),
    created_at integer not null default (cast(unixepoch('subsecond') * 1000 as integer)),
    updated_at integer not null default (cast(unixepoch('subsecond') * 1000 as integer)),
    nickname text, age integer)`,
  postgresql: `create table app_users (
    id text primary key not null, email text not null unique, password_hash text,
    is_active boolean not null default true, is_verified boolean not null default false, last_login timestamp(3) with time zone,
    joined_at timestamp(3) with time zone not null default now(), created_at timestamp(3) with time zone not null default now(),
    updated_at timestamp(3) with time zone not null default now(), nickname text, age integer)`
}

const keyed = sqliteTable('keyed_users', { ...sqliteUserColumns(), is_active: text('active_flag'), fooBar: text('foo_bar'), foo_bar: text('foo_bar2') })

const ROUTES = {
  registerFields: { nickname: { type: 'string', minLength: 1, maxLength: 40 }, age: { type: 'integer', minimum: 13 } },
  meFields: ['nickname', 'age']
}

async function appDatabase (dialect: Dialect): Promise<TestDatabase> {
  const db = await createTestDatabase(dialect)
  await db.query(DDL[dialect])
  return db
}

function usersTable (dialect: Dialect) {
  return dialect === 'sqlite' ? sqliteUsers : pgUsers
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: /register writes the extra columns, /me returns them, anything else is still refused`, async (t) => {
    const db = await appDatabase(dialect)
    const app = Fastify()
    await app.register(fastifyDrizzleAuth, {
      database: db.database, secret: SECRET, bcryptRounds: 4, usersTable: usersTable(dialect), routes: ROUTES
    } as FastifyDrizzleAuthOptions)
    t.teardown(async () => { await app.close(); await db.close() })
    const count = async () => Number((await db.query('select count(*) as n from app_users'))[0].n)

    const registered = await app.inject({ method: 'POST', url: '/register', payload: { email: 'nick@example.com', password: PASSWORD, nickname: 'Nicky', age: 30 } })
    t.equal(registered.statusCode, 201)
    t.same(Object.keys(registered.json()).sort(), ['age', 'email', 'id', 'is_verified', 'nickname'], 'the 201 echoes the registered fields')
    t.same(await db.query("select nickname, age from app_users where email = 'nick@example.com'"), [{ nickname: 'Nicky', age: 30 }])

    const login = await app.inject({ method: 'POST', url: '/login', payload: { email: 'nick@example.com', password: PASSWORD } })
    const me = await app.inject({ url: '/me', headers: bearer(login.json().access_token) })
    t.equal(me.statusCode, 200)
    t.match(me.json(), { email: 'nick@example.com', nickname: 'Nicky', age: 30 })

    const without = await app.inject({ method: 'POST', url: '/register', payload: { email: 'plain@example.com', password: PASSWORD } })
    t.equal(without.statusCode, 201, 'the extra fields are optional')
    const plainLogin = await app.inject({ method: 'POST', url: '/login', payload: { email: 'plain@example.com', password: PASSWORD } })
    t.match((await app.inject({ url: '/me', headers: bearer(plainLogin.json().access_token) })).json(), { nickname: null, age: null })

    const before = await count()
    for (const [payload, detail] of [
      [{ role: 'admin' }, /unexpected property 'role'/],
      [{ isVerified: true }, /unexpected property 'isVerified'/],
      [{ is_verified: true }, /unexpected property 'is_verified'/],
      [{ nickname: 'x'.repeat(41) }, /nickname must NOT have more than 40 characters/],
      [{ age: 12 }, /age must be >= 13/],
      [{ age: '30' }, /age must be integer/]
    ] as const) {
      const res = await app.inject({ method: 'POST', url: '/register', payload: { email: 'bad@example.com', password: PASSWORD, ...payload } })
      t.equal(res.statusCode, 400, `${JSON.stringify(payload)}: 400`)
      t.equal(res.json().code, 'invalid_request')
      t.match(res.json().detail, detail)
    }
    t.equal(await count(), before, 'no row written by a refused body')
  })
}

t.test('registerFields and meFields are checked at registration and say what to set', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no usersTable', { routes: { registerFields: { nickname: { type: 'string' } } } }, /needs `usersTable`/],
    ['not a column', { usersTable: sqliteUsers, routes: { registerFields: { nickame: { type: 'string' } } } }, /'nickame' is not a column of the users table \(its own columns: nickname, age\)/],
    ['a protected column', { usersTable: sqliteUsers, routes: { registerFields: { isVerified: { type: 'boolean' } } } }, /'isVerified' is set by the plugin/],
    ['not a schema', { usersTable: sqliteUsers, routes: { registerFields: { nickname: 'string' } } }, /must be a JSON schema object/],
    ['an invalid schema', { usersTable: sqliteUsers, routes: { registerFields: { nickname: { type: 'strin' } } } }, /is not a valid JSON schema/],
    ['registerFields not an object', { usersTable: sqliteUsers, routes: { registerFields: ['nickname'] } }, /must be an object of column: JSON schema/],
    ['meFields not names', { usersTable: sqliteUsers, routes: { meFields: 'nickname' } }, /must be an array of column names/],
    ['meFields unknown', { usersTable: sqliteUsers, routes: { meFields: ['nick'] } }, /'nick' is not a column/],
    ['meFields hash', { usersTable: sqliteUsers, routes: { meFields: ['passwordHash'] } }, /'passwordHash' is never returned/],
    ['meFields own', { usersTable: sqliteUsers, routes: { meFields: ['email'] } }, /'email' is already in \/me/],
    ['tags', { routes: { tags: 'auth' } }, /`routes.tags` must be an array/],
    ['a table with no columns of its own', { usersTable: sqliteTable('plain_users', sqliteUserColumns()), routes: { meFields: ['nickname'] } }, /\(its own columns: none\)/],
    ['a column under a key the routes use', { usersTable: keyed, routes: { meFields: ['is_active'] } }, /'is_active' would travel as 'is_active', which the bundled routes already use/],
    ['two columns under one key', { usersTable: keyed, routes: { registerFields: { fooBar: { type: 'string' }, foo_bar: { type: 'string' } } } }, /the columns 'fooBar' and 'foo_bar' would both travel as 'foo_bar'/]
  ]
  for (const [name, options, message] of cases) {
    const app = Fastify()
    app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, ...options } as FastifyDrizzleAuthOptions)
    const err = await app.ready().then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof ConfigurationError, `${name}: ConfigurationError`)
    t.match((err as Error).message, message, `${name}: says what to set`)
    await app.close().catch(() => {})
  }
})

t.test('AuthService.register refuses a field that is not a column, and writes nothing', async (t) => {
  const db = await appDatabase('sqlite')
  const service = new AuthService({ database: db.database, secret: SECRET, bcryptRounds: 4, usersTable: sqliteUsers })
  t.teardown(async () => { await service.close(); await db.close() })
  // @ts-expect-error 'nickame' is not a column of the table the service was built with
  await t.rejects(service.register('typo@example.com', PASSWORD, { nickame: 'Nicky' }), InvalidArgumentError)
  await t.rejects(service.register('typo@example.com', PASSWORD, { nickame: 'Nicky' } as never), { message: /`fields.nickame` is not a column of the users table/ })
  t.same(await db.query('select count(*) as n from app_users'), [{ n: 0 }])
  const user = await service.register('typed@example.com', PASSWORD, { nickname: 'Typed', age: 20 })
  t.equal((user as unknown as { nickname: string }).nickname, 'Typed')

  const plain = new AuthService({ database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  t.teardown(() => plain.close())
  await t.rejects(plain.register('x@example.com', PASSWORD, { nickname: 'x' } as never), { message: /`fields.nickname` is not a column/ },
    'the default table has no extra columns')
})

t.test('/me serializes each meField by its column type: dates as ISO-8601, bigints as strings, JSON as is', async (t) => {
  const typed = sqliteTable('typed_users', {
    ...sqliteUserColumns(),
    seenAt: integer('seen_at', { mode: 'timestamp_ms' }),
    points: blob('points', { mode: 'bigint' }),
    prefs: text('prefs', { mode: 'json' }),
    level: integer('level').notNull().default(1)
  })
  const db = await createTestDatabase('sqlite')
  await db.query(DDL.sqlite.replace('app_users', 'typed_users').replace('nickname text, age integer)', 'seen_at integer, points blob, prefs text, level integer not null default 1)'))
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, {
    database: db.database, secret: SECRET, bcryptRounds: 4, usersTable: typed, routes: { meFields: ['seenAt', 'points', 'prefs', 'level'] }
  } as FastifyDrizzleAuthOptions)
  t.teardown(async () => { await app.close(); await db.close() })
  const service = app.authService as unknown as AuthService<typeof typed>
  await service.register('typed@example.com', PASSWORD, { seenAt: new Date('2026-01-02T03:04:05.678Z'), points: 9007199254740993n, prefs: { theme: 'dark' } })
  const login = await app.inject({ method: 'POST', url: '/login', payload: { email: 'typed@example.com', password: PASSWORD } })
  const me = await app.inject({ url: '/me', headers: bearer(login.json().access_token) })
  t.equal(me.statusCode, 200)
  const { id, last_login: lastLogin, ...rest } = me.json()
  t.ok(typeof id === 'string' && typeof lastLogin === 'string')
  t.same(rest, { email: 'typed@example.com', is_verified: false, is_active: true, seen_at: '2026-01-02T03:04:05.678Z', points: '9007199254740993', prefs: { theme: 'dark' }, level: 1 },
    'every key snake_case: the column seenAt is seen_at')
})

t.test('a camelCase column travels under its snake_case key in /register, its 201 and /me, and only under that key', async (t) => {
  const cased = sqliteTable('cased_users', { ...sqliteUserColumns(), fullName: text('full_name'), userID: text('user_ref') })
  const db = await createTestDatabase('sqlite')
  await db.query(DDL.sqlite.replace('app_users', 'cased_users').replace('nickname text, age integer)', 'full_name text, user_ref text)'))
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, {
    database: db.database,
    secret: SECRET,
    bcryptRounds: 4,
    usersTable: cased,
    routes: { registerFields: { fullName: { type: 'string' }, userID: { type: 'string' } }, registerRequired: ['fullName'], meFields: ['fullName', 'userID'] }
  } as FastifyDrizzleAuthOptions)
  t.teardown(async () => { await app.close(); await db.close() })
  const register = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/register', payload: { password: PASSWORD, ...payload } })

  const camel = await register({ email: 'camel@example.com', fullName: 'Cam' })
  t.equal(camel.statusCode, 400, 'the property name is not a key of the body')
  t.match(camel.json().detail, /full_name/, 'the missing key is named as the body spells it')
  const ok = await register({ email: 'snake@example.com', full_name: 'Sna', user_id: 'u-1' })
  t.equal(ok.statusCode, 201)
  t.same(ok.json(), { id: ok.json().id, email: 'snake@example.com', is_verified: false, full_name: 'Sna', user_id: 'u-1' })
  t.same((await db.query("select full_name, user_ref from cased_users where email = 'snake@example.com'"))[0], { full_name: 'Sna', user_ref: 'u-1' }, 'stored in the columns')
  const login = await app.inject({ method: 'POST', url: '/login', payload: { email: 'snake@example.com', password: PASSWORD } })
  const me = (await app.inject({ url: '/me', headers: bearer(login.json().access_token) })).json()
  t.equal(me.full_name, 'Sna')
  t.equal(me.user_id, 'u-1')
  t.notOk('fullName' in me)
})
