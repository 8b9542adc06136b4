/**
 * The opt-in memory of session lookups on PostgreSQL, forgotten on LISTEN/NOTIFY, off while
 * the listening connection is down, capped by maxStalenessMs.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { AuthService, ConfigurationError } from '../src/index.ts'
import { type PgAuthStore, sessions, users } from '../src/db/pg/index.ts'
import { bearer, buildApp, registerAndLogin, SECRET, testDatabase } from './fixtures/app.ts'
import { PG_URL, requirePostgres } from './fixtures/databases.ts'
import { counts, lookups, next, until } from './fixtures/session-memory.ts'

t.test('sessionCache options are checked once', async (t) => {
  for (const bad of [{ enabled: 'yes' }, { maxStalenessMs: 5 }, { enabled: true, maxStalenessMs: 0 }, 'on']) {
    t.throws(() => new AuthService({ database: ':memory:', secret: SECRET, sessionCache: bad as never }), ConfigurationError, JSON.stringify(bad))
  }
  const off = new AuthService({ database: ':memory:', secret: SECRET, sessionCache: { enabled: false } })
  t.equal(off.config.storage.sessionCache, undefined)
  await off.close()
  const on = new AuthService({ database: ':memory:', secret: SECRET, sessionCache: { enabled: true } })
  t.same(on.config.storage.sessionCache, { maxStalenessMs: 1000 })
  await on.close()
  // With a store of its own the option would do nothing: refused, saying where it goes instead.
  const { sqliteStore } = await import('../src/db/sqlite/index.ts')
  t.throws(() => new AuthService({ store: sqliteStore(':memory:'), secret: SECRET, sessionCache: { enabled: true } }),
    { message: /with `store`, pass it to pgStore\(url, \{ sessionCache/ })
  const { pgStore } = await import('../src/db/pg/index.ts')
  for (const maxStalenessMs of [0, -1, 1.5, '100']) {
    t.throws(() => pgStore(PG_URL, { sessionCache: { maxStalenessMs: maxStalenessMs as never } }), { message: /`sessionCache.maxStalenessMs` must be a positive integer \(default 1000\)/ })
  }
})

if (await requirePostgres()) {
  async function cachedApp (t: Test, maxStalenessMs = 60_000) {
    const app = await buildApp({ sessionCache: { enabled: true, maxStalenessMs } }, {}, 'postgresql')
    t.teardown(() => app.close())
    const session = await registerAndLogin(app)
    const store = app.authService.store as PgAuthStore
    await store.listen()
    const db = testDatabase(app)
    // The login stamped last_login (one notification, the cache listening since ready): let it arrive first.
    await until(() => lookups(store).notifications! >= 1)
    const me = async () => (await app.inject({ url: '/me', headers: bearer(session.accessToken) })).statusCode
    /** Runs a write and waits until it has been notified. */
    const write = async (text: string) => {
      const seen = lookups(store).notifications!
      await db.query(text)
      await until(() => lookups(store).notifications! > seen)
    }
    return { app, session, store, me, db, write }
  }

  t.test('without the option every request asks the database', async (t) => {
    const app = await buildApp({}, {}, 'postgresql')
    t.teardown(() => app.close())
    const session = await registerAndLogin(app)
    t.same((app.authService.store as PgAuthStore).diagnostics(), {}, 'no memory to report on')
    t.equal((await app.inject({ url: '/me', headers: bearer(session.accessToken) })).statusCode, 200)
    await testDatabase(app).query('update auth_sessions set revoked_at = now()')
    t.equal((await app.inject({ url: '/me', headers: bearer(session.accessToken) })).statusCode, 401, 'refused at once')
  })

  t.test('remembered until a write that matters is notified; the application\'s own writes change nothing', async (t) => {
    const { store, me, db, write } = await cachedApp(t)
    t.match(lookups(store), { trusted: true, watching: 'notifications' })
    t.equal(await me(), 200)
    t.equal(await me(), 200)
    t.match(lookups(store), { hits: 1, misses: 1, remembered: 1 })
    await db.query('create table app_events (id serial primary key)')
    await db.query('insert into app_events default values')
    await db.query('update auth_sessions set last_used_at = now()')
    t.equal(await me(), 200)
    t.match(counts(store), { hits: 2, misses: 1 }, 'an unrelated write, and a column the answer does not hold, leave it')
    await write('update auth_sessions set revoked_at = now()')
    t.equal(await me(), 401, 'a revocation written elsewhere is refused once notified')
  })

  t.test('deactivation and deletion are notified too', async (t) => {
    const { me, write } = await cachedApp(t)
    t.equal(await me(), 200)
    await write('update auth_users set is_active = false')
    t.equal(await me(), 401)
    await write('update auth_users set is_active = true')
    t.equal(await me(), 200)
    await write('delete from auth_refresh_tokens; delete from auth_sessions')
    t.equal(await me(), 401)
  })

  t.test('while the listening connection is down nothing is remembered (fail closed); it comes back', async (t) => {
    const { store, me, db } = await cachedApp(t)
    t.equal(await me(), 200)
    const lost = next('connection lost')
    await db.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike \'listen %\'')
    await lost
    t.equal(lookups(store).trusted, false)
    const before = counts(store)
    t.equal(await me(), 200)
    t.equal(await me(), 200)
    t.same(counts(store), { hits: before.hits, misses: before.misses + 2 }, 'every lookup asked the database')
    await store.listen()
    t.equal(lookups(store).trusted, true, 'listening again')
    t.equal(await me(), 200)
    t.equal(await me(), 200)
    t.equal(counts(store).hits, before.hits + 1)
  })

  t.test('a users table in another schema (and a decoy public.users): its writes are notified; a lost connection is logged once', async (t) => {
    const { pgSchema } = await import('drizzle-orm/pg-core')
    const { authUserColumns } = await import('../src/db/pg/index.ts')
    const Fastify = (await import('fastify')).default
    const fastifyDrizzleAuth = (await import('../src/index.ts')).default
    const { createTestDatabase } = await import('./fixtures/databases.ts')
    const db = await createTestDatabase('postgresql')
    await db.query(`create schema app;
      create table app.users (id text primary key, email text not null unique, password_hash text, is_active boolean not null default true,
        is_verified boolean not null default false, last_login timestamptz, joined_at timestamptz not null default now(),
        created_at timestamptz not null default now(), updated_at timestamptz not null default now());
      create table public.users (id text primary key, is_active boolean not null default true)`)
    const lines: Array<{ level: number, msg: string, reason?: string }> = []
    const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
    await app.register(fastifyDrizzleAuth, {
      database: db.url!,
      secret: SECRET,
      bcryptRounds: 4,
      routes: true,
      usersTable: pgSchema('app').table('users', authUserColumns()),
      sessionCache: { enabled: true, maxStalenessMs: 60_000 }
    })
    t.teardown(async () => { await app.close(); await db.close() })
    const session = await registerAndLogin(app)
    const store = app.authService.store as PgAuthStore
    await store.listen()
    t.equal(lookups(store).trusted, true, 'listening')
    const me = async () => (await app.inject({ url: '/me', headers: bearer(session.accessToken) })).statusCode
    t.equal(await me(), 200)
    t.equal(await me(), 200)
    const triggers = await db.query("select event_object_schema as schema, event_object_table as name from information_schema.triggers where trigger_name like '%fda_notify' group by 1, 2 order by 1, 2")
    t.same(triggers, [{ schema: 'app', name: 'users' }, { schema: 'public', name: 'auth_sessions' }], 'the trigger is on app.users, not on the decoy')
    const seen = lookups(store).notifications!
    await db.query('update app.users set is_active = false')
    await until(() => lookups(store).notifications! > seen)
    t.equal(await me(), 401, 'a raw deactivation of app.users is seen at once')

    t.same(lines.filter((line) => /sessionCache/.test(line.msg)), [], 'no warning while it listens')
    const lost = next('connection lost')
    await db.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike \'listen %\'')
    await lost
    const warnings = lines.filter((line) => /sessionCache is not listening/.test(line.msg))
    t.equal(warnings.length, 1, 'the lost connection is logged once')
    t.match(warnings[0], { level: 40, reason: /57P01|terminat/ }, 'at warn, with the reason')
  })

  t.test('no answer is reused after maxStalenessMs, notification or not', async (t) => {
    const { store, me } = await cachedApp(t, 1)
    t.equal(await me(), 200)
    await sleep(5)
    t.equal(await me(), 200)
    t.match(counts(store), { hits: 0, misses: 2 })
  })
}

if (await requirePostgres()) {
  t.test('an epoch that cannot listen stays off (nothing can be remembered), and closing stops its retries', async (t) => {
    const { NotifyEpoch } = await import('../src/db/pg/notify-epoch.ts')
    const pg = (await import('pg')).default
    // The real server, refusing a database that does not exist: no port of our choosing.
    const missing = new URL(PG_URL)
    missing.pathname = '/fda_no_such_database'
    const epoch = new NotifyEpoch(() => new pg.Client({ connectionString: missing.toString() }), { sessions, users })
    const warnings: Array<{ reason: string }> = []
    epoch.onWarning((details) => { warnings.push(details) })
    const lost = next('connection lost')
    await epoch.start()
    await lost
    t.same(epoch.diagnostics(), { trusted: false, notifications: 0 })
    t.equal(epoch.current(), undefined, 'no version: nothing may be remembered')
    t.match(warnings, [{ reason: /^3D000: database "fda_no_such_database" does not exist/ }], 'warned once, with the reason')
    await epoch.start()
    t.equal(warnings.length, 1, 'not again while the outage lasts')
    await epoch.close()
    await epoch.start()
    t.equal(epoch.current(), undefined, 'a closed epoch does not start again')
  })

  t.test('pgStore(url, { sessionCache: {} }): an application\'s own store with the default cap', async (t) => {
    const app = await buildApp({}, {}, 'postgresql')
    t.teardown(() => app.close())
    await app.ready()
    const { pgStore } = await import('../src/db/pg/index.ts')
    const store = pgStore(testDatabase(app).url!, { sessionCache: {} })
    t.teardown(() => store.close())
    await store.ready()
    t.equal(lookups(store).trusted, true)
    const user = await store.users.create({ email: 'own@example.com', passwordHash: null })
    await testDatabase(app).query(`insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at) values ('own-session', '${user.id}', now(), now(), now() + interval '1 hour')`)
    await store.sessions.find('own-session')
    await store.sessions.find('own-session')
    t.same(counts(store), { hits: 1, misses: 1 }, 'reused within the default 1,000 ms')
  })

  t.test('closing while the cache is still starting: it never starts listening', async (t) => {
    const app = await buildApp({}, {}, 'postgresql')
    t.teardown(() => app.close())
    await app.ready()
    const { NotifyEpoch } = await import('../src/db/pg/notify-epoch.ts')
    const pg = (await import('pg')).default
    const url = testDatabase(app).url!
    const epoch = new NotifyEpoch(() => new pg.Client({ connectionString: url }), { sessions, users })
    const starting = epoch.start()
    await epoch.close()
    await starting
    t.equal(epoch.current(), undefined)
    t.equal(epoch.diagnostics().trusted, false)
  })

  t.test('a user column that is null is answered as null (a session made without a login)', async (t) => {
    const app = await buildApp({}, {}, 'postgresql')
    t.teardown(() => app.close())
    const user = await app.authService.register('raw@example.com', 'Correct-Horse-9-Battery')
    const db = testDatabase(app)
    await db.query(`insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at) values ('raw-session', '${user.id}', now(), now(), now() + interval '1 hour')`)
    const found = await (app.authService.store as PgAuthStore).sessions.find('raw-session')
    t.equal(found?.user.lastLogin, null)
    t.equal(found?.session.revokedAt, null)
    t.ok(found?.session.expiresAt instanceof Date)
  })
}
