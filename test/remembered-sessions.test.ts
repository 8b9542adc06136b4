import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { readOnlyStoreWithoutTriggers } from './fixtures/read-only-store.ts'
import { counts, lookups } from './fixtures/session-memory.ts'
import { tempDir } from './fixtures/temp.ts'
import { SqliteAuthStore, migrate, openSqlite } from '../src/db/sqlite/index.ts'
import { PASSWORD, bearer, buildApp, login, registerAndLogin, testDatabase } from './fixtures/app.ts'

// The SQLite store remembers session lookups while the database is unchanged. These guard that a change made
// anywhere (this connection, another handle, another process's commit) is seen on the very next request.

function tempFile (t: Test): string {
  const dir = tempDir(t, 'fda-remembered-')
  return join(dir, 'auth.sqlite')
}

async function appOnFile (t: Test, schema?: string) {
  const path = tempFile(t)
  // The application's own tables, made before the plugin opens (a schema change later is looked at only every
  // SCHEMA_CHECK_MS, and would empty the memory at a moment the test does not choose).
  if (schema !== undefined) {
    const setup = new Database(path)
    setup.exec(schema)
    setup.close()
  }
  const app = await buildApp({ database: path })
  t.teardown(() => app.close())
  const session = await registerAndLogin(app)
  // A second, independent connection to the same file: what another process or tool would write through.
  const other = new Database(path)
  other.pragma('busy_timeout = 5000')
  t.teardown(() => other.close())
  return { app, session, other }
}

async function me (app: Awaited<ReturnType<typeof buildApp>>, token: string) {
  return app.inject({ url: '/me', headers: bearer(token) })
}

t.test('a session revoked through another connection is refused on the next request', async (t) => {
  const { app, session, other } = await appOnFile(t)
  t.equal((await me(app, session.accessToken)).statusCode, 200)
  t.equal((await me(app, session.accessToken)).statusCode, 200, 'served again (remembered)')
  other.prepare('update auth_sessions set revoked_at = ?').run(Date.now())
  const res = await me(app, session.accessToken)
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"')
})

t.test('a session row deleted through another connection is refused on the next request', async (t) => {
  const { app, session, other } = await appOnFile(t)
  t.equal((await me(app, session.accessToken)).statusCode, 200)
  other.prepare('delete from auth_refresh_tokens').run()
  other.prepare('delete from auth_sessions').run()
  t.equal((await me(app, session.accessToken)).statusCode, 401)
})

t.test('a user deactivated through another connection is refused on the next request', async (t) => {
  const { app, session, other } = await appOnFile(t)
  t.equal((await me(app, session.accessToken)).statusCode, 200)
  other.prepare('update auth_users set is_active = 0').run()
  t.equal((await me(app, session.accessToken)).statusCode, 401)
  other.prepare('update auth_users set is_active = 1').run()
  t.equal((await me(app, session.accessToken)).statusCode, 200, 'and accepted again once reactivated')
})

for (const verb of ['insert or replace into', 'replace into']) {
  t.test(`${verb.toUpperCase()} through another connection is seen at once: a session rewritten revoked, a user rewritten inactive`, async (t) => {
    const { app, session, other } = await appOnFile(t)
    // The rows rewritten whole through a copy (the copy's own update touches no watched table).
    const rewrite = (table: string, set: string) => other.exec(`create temp table copy as select * from ${table};
      update temp.copy set ${set}; ${verb} ${table} select * from temp.copy; drop table temp.copy`)
    t.equal((await me(app, session.accessToken)).statusCode, 200)
    t.equal((await me(app, session.accessToken)).statusCode, 200, 'served again (remembered)')
    rewrite('auth_sessions', `revoked_at = ${Date.now()}`)
    t.equal((await me(app, session.accessToken)).statusCode, 401, 'the replaced session is revoked')

    const fresh = await login(app)
    t.equal((await me(app, fresh.accessToken)).statusCode, 200)
    t.equal((await me(app, fresh.accessToken)).statusCode, 200, 'served again (remembered)')
    rewrite('auth_users', 'is_active = 0')
    t.equal((await me(app, fresh.accessToken)).statusCode, 401, 'the replaced user is inactive')
  })
}

t.test('a change written on the plugin\'s own connection (raw SQL, no service call) is seen on the next request', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const session = await registerAndLogin(app)
  const db = testDatabase(app)
  t.equal((await me(app, session.accessToken)).statusCode, 200)
  await db.query("update auth_users set email = 'renamed@example.com'")
  t.equal((await me(app, session.accessToken)).json().email, 'renamed@example.com', 'not the remembered row')
  await db.query('update auth_sessions set revoked_at = 1')
  t.equal((await me(app, session.accessToken)).statusCode, 401)
})

t.test('logout and logout-all are immediate for a session served from memory', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const first = await registerAndLogin(app)
  const second = await registerAndLogin(app, 'bob@example.com')
  for (let i = 0; i < 3; i++) t.equal((await me(app, first.accessToken)).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(second.accessToken) })).statusCode, 200)
  t.equal((await me(app, second.accessToken)).statusCode, 401)
  t.equal((await me(app, first.accessToken)).statusCode, 200, 'another user\'s logout leaves this session alone')
})

t.test('a remembered session still expires on time, with no write to the database', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const session = await registerAndLogin(app)
  await testDatabase(app).query(`update auth_sessions set expires_at = ${Date.now() + 300}`)
  t.equal((await me(app, session.accessToken)).statusCode, 200)
  await new Promise((resolve) => setTimeout(resolve, 400))
  const res = await me(app, session.accessToken)
  t.equal(res.statusCode, 401)
  t.equal(res.json().detail, 'Authentication required')
})

t.test('each request gets its own user object: a handler changing it does not change the next request', async (t) => {
  const app = await buildApp()
  app.get('/mutate', async (request) => {
    const user = request.user as unknown as Record<string, unknown>
    user.email = 'mallory@example.com'
    user.isActive = false
    return { ok: true }
  })
  t.teardown(() => app.close())
  const session = await registerAndLogin(app)
  t.equal((await app.inject({ url: '/mutate', headers: bearer(session.accessToken) })).statusCode, 200)
  const res = await me(app, session.accessToken)
  t.equal(res.statusCode, 200)
  t.equal(res.json().email, 'alice@example.com')
  t.equal(res.json().is_active, true)
})

/** A migrated in-memory SQLite store holding one user. */
async function storeWithUser (t: Test) {
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  migrate(db)
  const store = new SqliteAuthStore(db)
  const user = await store.users.create({ email: 'a@example.com', passwordHash: null })
  return { db, store, user }
}

t.test('remembered answers are frozen, so a caller of the store cannot change them for the next', async (t) => {
  const { store, user } = await storeWithUser(t)
  const now = new Date()
  await store.sessions.create({ id: 's1', userId: user.id, createdAt: now, expiresAt: new Date(now.getTime() + 60_000), userAgent: null, ip: null }, 'h1', { passwordHash: null })
  const found = store.sessions.find('s1')!
  t.ok(Object.isFrozen(found) && Object.isFrozen(found.session) && Object.isFrozen(found.user))
  t.throws(() => { (found.session as { revokedAt: Date | null }).revokedAt = null })
  t.equal(store.sessions.find('s1'), found, 'the same answer while nothing changed')
  await store.sessions.revoke('s1', 'test', new Date())
  t.not(store.sessions.find('s1')!.session.revokedAt, null)
})

t.test('more sessions than are remembered: the oldest are forgotten and still answered correctly', async (t) => {
  const { db, store, user } = await storeWithUser(t)
  const expires = Date.now() + 60_000
  const insert = db.$client.prepare('insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at) values (?, ?, 0, 0, ?)')
  db.$client.transaction(() => { for (let i = 0; i <= 10_000; i++) insert.run(`s${i}`, user.id, expires) })()
  for (let i = 0; i <= 10_000; i++) store.sessions.find(`s${i}`)
  // 4,999 kept; the 5,000th lookup sees no hit in 5,000, so of the 5,002 offered after it 1 in 16 is kept (312).
  t.equal(lookups(store).remembered, 5_311, 'after 10,001 distinct sessions, all missing: 5,311 remembered, never over 10,000')
  t.equal(store.sessions.find('s0')?.session.userId, user.id, 'the first, forgotten, looked up again')
  t.equal(store.sessions.find('s10000')?.session.userId, user.id)
  t.equal(store.sessions.find('missing'), undefined)
})

t.test('a password change refuses the other, remembered, sessions at once and keeps the one that made it', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const kept = await registerAndLogin(app)
  const elsewhere = await login(app)
  t.equal((await me(app, kept.accessToken)).statusCode, 200)
  t.equal((await me(app, elsewhere.accessToken)).statusCode, 200)
  const res = await app.inject({
    method: 'POST',
    url: '/password',
    headers: bearer(kept.accessToken),
    payload: { current_password: PASSWORD, new_password: 'Another-Correct-Horse-7' }
  })
  t.equal(res.statusCode, 200, res.body)
  t.equal((await me(app, elsewhere.accessToken)).statusCode, 401)
  t.equal((await me(app, kept.accessToken)).statusCode, 200)
})

t.test('nothing is remembered inside an open transaction, so a rollback is seen at once', async (t) => {
  const app = await buildApp({}, {}, 'sqlite')
  t.teardown(() => app.close())
  const session = await registerAndLogin(app)
  const client = (testDatabase(app).database as unknown as { $client: Database.Database }).$client
  client.exec('update auth_users set is_active = 0')
  t.equal((await me(app, session.accessToken)).statusCode, 401, 'inactive')
  client.exec('begin')
  client.exec('update auth_users set is_active = 1')
  t.equal((await me(app, session.accessToken)).statusCode, 200, 'inside the transaction the row reads active')
  t.equal((await me(app, session.accessToken)).statusCode, 200, 'and again')
  client.exec('rollback')
  t.equal((await me(app, session.accessToken)).statusCode, 401, 'after the rollback: inactive on the very next request')
  t.equal((await me(app, session.accessToken)).statusCode, 401, 'and it stays so')
})

t.test('the store counts lookups answered from memory and from the database', async (t) => {
  const { app, session, other } = await appOnFile(t)
  const store = app.authService.store as SqliteAuthStore
  const before = counts(store)
  for (let i = 0; i < 3; i++) t.equal((await me(app, session.accessToken)).statusCode, 200)
  t.same(counts(store), { hits: before.hits + 2, misses: before.misses + 1 }, 'one join, then two answers from memory')
  other.prepare('update auth_users set updated_at = updated_at + 1').run()
  t.equal((await me(app, session.accessToken)).statusCode, 200)
  t.same(counts(store), { hits: before.hits + 2, misses: before.misses + 2 }, 'a user row written elsewhere: the join again')
  lookups(store).hits = 1000
  t.equal(lookups(store).hits, before.hits + 2, 'a copy: the counts cannot be edited from outside')
})

t.test('the application writing its own tables (another connection, or raw SQL on the plugin\'s) leaves the memory alone', async (t) => {
  const { app, session, other } = await appOnFile(t, 'create table app_events (id integer primary key, body text)')
  const store = app.authService.store as SqliteAuthStore
  t.equal((await me(app, session.accessToken)).statusCode, 200)
  const before = counts(store)
  for (let i = 0; i < 5; i++) {
    other.prepare('insert into app_events (body) values (?)').run(`e${i}`)
    // A session's columns that are not part of the answer (its last use) do not matter either.
    other.prepare('update auth_sessions set last_used_at = ?').run(Date.now())
    t.equal((await me(app, session.accessToken)).statusCode, 200)
  }
  t.same(counts(store), { hits: before.hits + 5, misses: before.misses }, 'every one answered from memory')
  other.prepare('update auth_sessions set revoked_at = ?').run(Date.now())
  t.equal((await me(app, session.accessToken)).statusCode, 401, 'a revocation is still seen on the next request')

  // The same on the plugin's own connection (the application shares its Drizzle database with it).
  const shared = await buildApp()
  t.teardown(() => shared.close())
  const own = await registerAndLogin(shared)
  const db = testDatabase(shared)
  await db.query('create table app_events (id integer primary key, body text)')
  t.equal((await me(shared, own.accessToken)).statusCode, 200)
  const sharedStore = shared.authService.store as SqliteAuthStore
  const start = counts(sharedStore)
  for (let i = 0; i < 3; i++) {
    await db.query(`insert into app_events (body) values ('own${i}')`)
    t.equal((await me(shared, own.accessToken)).statusCode, 200)
  }
  t.same(counts(sharedStore), { hits: start.hits + 3, misses: start.misses })
  await db.query('update auth_users set is_active = 0')
  t.equal((await me(shared, own.accessToken)).statusCode, 401, 'raw SQL deactivating the user is seen at once')
})

t.test('where the triggers cannot be made (a read-only connection), any commit forgets the memory', async (t) => {
  const path = tempFile(t)
  const writer = openSqlite(path)
  t.teardown(() => writer.close())
  migrate(writer.db)
  const service = new SqliteAuthStore(writer.db)
  const user = await service.users.create({ email: 'ro@example.com', passwordHash: null })
  writer.db.$client.prepare('insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at) values (?, ?, 0, 0, ?)').run('s1', user.id, Date.now() + 60_000)
  // The triggers are in place for the writer's own store: dropped, so the read-only store cannot rely on them.
  const { store, reader } = readOnlyStoreWithoutTriggers(t, path, writer.db.$client)
  t.equal(reader.prepare("select count(*) from sqlite_master where type = 'trigger'").pluck().get(), 0, 'no trigger could be made')
  t.equal(store.sessions.find('s1')?.session.revokedAt, null)
  t.equal(store.sessions.find('s1')?.session.revokedAt, null)
  t.same(counts(store), { hits: 1, misses: 1 })
  writer.db.$client.prepare('create table app_rows (id integer primary key)').run()
  t.equal(store.sessions.find('s1')?.session.revokedAt, null)
  t.same(counts(store), { hits: 1, misses: 2 }, 'any commit elsewhere: the join again')
  writer.db.$client.prepare('update auth_sessions set revoked_at = ?').run(Date.now())
  t.not(store.sessions.find('s1')?.session.revokedAt, null, 'the revocation is seen')
})

t.test('triggers lost to a table rebuild are noticed within SCHEMA_CHECK_MS and put back; until then nothing is trusted', async (t) => {
  const { SCHEMA_CHECK_MS } = await import('../src/db/sqlite/versions.ts')
  const { SqliteSessionLookup } = await import('../src/db/sqlite/session-lookup.ts')
  const { users } = await import('../src/db/sqlite/schema.ts')
  let clock = 0
  const path = tempFile(t)
  const opened = openSqlite(path, { busyTimeoutMs: 50, backgroundCheckpoints: false })
  t.teardown(() => opened.close())
  migrate(opened.db)
  const users_ = new SqliteAuthStore(opened.db).users
  const user = await users_.create({ email: 'rebuild@example.com', passwordHash: null })
  // The lookup itself, on a clock the test moves: the schema is looked at when SCHEMA_CHECK_MS have passed on it.
  const lookup = new SqliteSessionLookup(opened.db, opened.db.$client, users, () => clock)
  const store = { sessions: lookup }
  const counts = () => { const { hits, misses } = lookup.diagnostics(); return { hits, misses } }
  opened.db.$client.prepare('insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at) values (?, ?, 0, 0, ?)').run('s1', user.id, Date.now() + 60_000)
  const other = new Database(path)
  other.pragma('busy_timeout = 5000')
  t.teardown(() => other.close())
  const triggers = () => other.prepare("select count(*) from sqlite_master where type = 'trigger'").pluck().get()
  t.equal(triggers(), 6)
  store.sessions.find('s1')
  store.sessions.find('s1')
  t.same(counts(), { hits: 1, misses: 1 })

  // A rebuild's effect: the session table's triggers are gone, and a revocation then moves no version.
  other.exec('drop trigger "auth_sessions_fda_updated"; drop trigger "auth_sessions_fda_deleted"')
  other.prepare('update auth_sessions set revoked_at = ?').run(Date.now())
  // While another connection holds the write lock, the triggers cannot be put back: nothing is trusted.
  other.exec('begin immediate')
  clock += SCHEMA_CHECK_MS
  t.not(store.sessions.find('s1')?.session.revokedAt, null, 'the revocation is seen once the schema check ran')
  store.sessions.find('s1')
  t.same(counts(), { hits: 1, misses: 3 }, 'untrusted: every lookup asks the database')
  t.same(lookup.findMany(['s1', 's1']).map((f) => f?.session.id), ['s1', 's1'], 'a shared read while untrusted')
  t.same(counts(), { hits: 1, misses: 5 }, 'each asked, nothing remembered')
  other.exec('commit')
  clock += SCHEMA_CHECK_MS
  store.sessions.find('s1')
  t.equal(triggers(), 6, 'the triggers are back')
  store.sessions.find('s1')
  t.same(counts(), { hits: 2, misses: 6 }, 'and answers are remembered again')
})
