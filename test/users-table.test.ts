import Fastify from 'fastify'
import { sqliteTable, text } from 'drizzle-orm/sqlite-core'
import t from 'tap'
import fastifyDrizzleAuth, { AuthService } from '../src/index.ts'
import { openSqlite, migrate } from '../src/db/sqlite/index.ts'
import { authUserColumns, users } from '../src/db/sqlite/index.ts'
import { PASSWORD, SECRET, bearer } from './fixtures/app.ts'

const appUsers = sqliteTable('app_users', { ...authUserColumns(), nickname: text('nickname') })

const APP_USERS_DDL = `create table app_users (
  id text primary key not null, email text not null unique, password_hash text,
  is_active integer not null default 1, is_verified integer not null default 0, last_login integer,
  joined_at integer not null default (cast(unixepoch('subsecond') * 1000 as integer)),
  created_at integer not null default (cast(unixepoch('subsecond') * 1000 as integer)),
  updated_at integer not null default (cast(unixepoch('subsecond') * 1000 as integer)),
  nickname text)`

t.test('the default table: normalized unique email, hash, flags with their defaults, timestamps', async (t) => {
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  migrate(db)
  const auth = new AuthService({ database: db, secret: SECRET, bcryptRounds: 4 })
  const before = Date.now()
  const user = await auth.register('  ＡＬＩＣＥ@Example.COM ', PASSWORD)
  const row = db.select().from(users).all()[0]
  t.equal(row.email, 'alice@example.com', 'trimmed, NFKC, lower-cased')
  t.match(row.passwordHash, /^\$2b\$04\$/, 'a bcrypt hash at the configured cost')
  t.equal(row.isActive, true)
  t.equal(row.isVerified, false)
  t.equal(row.lastLogin, null)
  for (const column of ['joinedAt', 'createdAt', 'updatedAt'] as const) {
    t.ok(row[column] instanceof Date && row[column].getTime() >= before - 1000, `${column} set`)
  }
  await auth.login('alice@example.com', PASSWORD)
  const after = db.select().from(users).all()[0]
  t.ok(after.lastLogin instanceof Date, 'login updates lastLogin')
  t.equal(user.id, row.id)
})

t.test('an application users table with extra columns, built from authUserColumns()', async (t) => {
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  db.$client.exec(APP_USERS_DDL)
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: db, secret: SECRET, bcryptRounds: 4, usersTable: appUsers, routes: true })
  app.get('/nick', async (request) => ({ nickname: (request.user as { nickname?: string | null }).nickname ?? null }))
  t.teardown(() => app.close())

  const typed = app.authService as unknown as AuthService<typeof appUsers>
  const user = await typed.register('nick@example.com', PASSWORD, { nickname: 'Nicky' })
  const rows = db.select().from(appUsers).all()
  t.equal(rows.length, 1)
  t.equal(rows[0].nickname, 'Nicky')
  t.equal(db.$client.prepare("select count(*) from sqlite_master where name = 'auth_users'").pluck().get(), 0, 'the default table is not even created')

  const login = await app.inject({ method: 'POST', url: '/login', payload: { email: 'nick@example.com', password: PASSWORD } })
  t.equal(login.statusCode, 200)
  const token = login.json().access_token
  t.same((await app.inject({ url: '/nick', headers: bearer(token) })).json(), { nickname: 'Nicky' })
  const me = await app.inject({ url: '/me', headers: bearer(token) })
  t.equal(me.json().id, user.id)
  t.notOk('nickname' in me.json(), 'the /me response schema serializes only its own fields')
  t.ok(db.select().from(appUsers).all()[0].lastLogin instanceof Date, 'lastLogin stamped in the application table')
  t.equal(db.$client.prepare("select count(*) from sqlite_master where type = 'trigger' and tbl_name = 'app_users'").pluck().get(), 3,
    'the remembered lookups watch the application table (update, delete, insert)')
  db.$client.prepare("update app_users set nickname = 'Renamed'").run()
  t.same((await app.inject({ url: '/nick', headers: bearer(token) })).json(), { nickname: 'Renamed' }, 'an application column written by raw SQL is seen at once')
  db.$client.prepare('update app_users set is_active = 0').run()
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 401, 'and a deactivation')
})
