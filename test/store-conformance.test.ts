/**
 * One conformance suite for every AuthStore implementation: the same assertions against SQLite and
 * PostgreSQL (the latter skipped locally with one line when no server answers; required under CI).
 */
import t, { type Test } from 'tap'
import { AuthService, type AuthStore, ConflictError } from '../src/index.ts'
import { sqliteStore } from '../src/db/sqlite/index.ts'
import { pgStore } from '../src/db/pg/index.ts'
import { loadDialect, openStore as openShortcut } from '../src/db/index.ts'
import { createTestDatabase, type Dialect, requirePostgres, type TestDatabase } from './fixtures/databases.ts'

const dialects: Dialect[] = ['sqlite']
if (await requirePostgres()) dialects.push('postgresql')

const databases = new WeakMap<AuthStore, TestDatabase>()
const testDatabaseOf = (store: AuthStore) => databases.get(store)!

async function openStore (t: Test, dialect: Dialect): Promise<AuthStore> {
  const db = await createTestDatabase(dialect)
  t.teardown(() => db.close())
  const store = await storeFor(t, db)
  databases.set(store, db)
  return store
}

async function storeFor (t: Test, db: TestDatabase): Promise<AuthStore> {
  if (typeof db.database !== 'string') return sqliteStore(db.database)
  const store = pgStore(db.database)
  t.teardown(() => store.close())
  return store
}

const hour = 3600_000
// The users of this suite have no password; a session is made only while that still holds.
const NO_PASSWORD = { passwordHash: null }
const session = (id: string, userId: string, now: Date, ttl = hour) =>
  ({ id, userId, createdAt: now, expiresAt: new Date(now.getTime() + ttl), userAgent: 'ua', ip: '127.0.0.1' })

for (const dialect of dialects) {
  t.test(dialect, async (t) => {
    t.test('users: create with defaults, find, update; a taken email is ConflictError from the index', async (t) => {
      const store = await openStore(t, dialect)
      await store.ready()
      t.equal(store.dialect, dialect)
      const user = await store.createUser({ email: 'a@example.com', passwordHash: '$2b$04$hash' })
      t.match(user, { email: 'a@example.com', passwordHash: '$2b$04$hash', isActive: true, isVerified: false, lastLogin: null })
      t.match(user.id, /^[0-9a-f-]{36}$/)
      for (const column of ['joinedAt', 'createdAt', 'updatedAt'] as const) t.ok(user[column] instanceof Date, column)
      t.same(await store.findUserByEmail('a@example.com'), user)
      t.same(await store.findUserById(user.id), user)
      t.equal(await store.findUserByEmail('b@example.com'), undefined)
      t.equal(await store.findUserById('not-a-uuid'), undefined, 'any id can be looked up')
      const later = new Date(Date.now() + 1000)
      const updated = await store.updateUser(user.id, { isVerified: true, passwordHash: null }, later)
      t.match(updated, { isVerified: true, passwordHash: null })
      t.equal(updated!.updatedAt.getTime(), later.getTime())
      t.equal(await store.updateUser('missing', { isActive: false }, later), undefined)
      const dup = await store.createUser({ email: 'a@example.com', passwordHash: null }).then(() => null, (e: unknown) => e)
      t.ok(dup instanceof ConflictError)
      t.equal((dup as ConflictError).code, 'email_taken')
    })

    t.test('users: 20 concurrent inserts of one email, exactly one row', async (t) => {
      const store = await openStore(t, dialect)
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => store.createUser({ email: 'race@example.com', passwordHash: null })))
      t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
      t.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof ConflictError), 'the rest are conflicts')
    })

    t.test('sessions: created with the first refresh token and the last-login stamp, found joined with the user', async (t) => {
      const store = await openStore(t, dialect)
      const user = await store.createUser({ email: 's@example.com', passwordHash: null })
      const now = new Date(Math.floor(Date.now() / 1000) * 1000)
      await store.createSession(session('sid-1', user.id, now), 'hash-0', NO_PASSWORD)
      const found = await store.findSession('sid-1')
      t.same(found!.session, { id: 'sid-1', userId: user.id, expiresAt: new Date(now.getTime() + hour), revokedAt: null })
      t.equal(found!.user.id, user.id)
      t.equal(found!.user.lastLogin!.getTime(), now.getTime(), 'last login stamped in the same transaction')
      t.equal(await store.findSession('nope'), undefined)
      t.equal(await store.findRefreshTokenSession('hash-0'), 'sid-1')
      t.equal(await store.findRefreshTokenSession('nope'), undefined)
    })

    t.test('rotation: consume once, report spent tokens with the newest generation, keep two rows a session, refuse dead sessions', async (t) => {
      const store = await openStore(t, dialect)
      const user = await store.createUser({ email: 'r@example.com', passwordHash: null })
      const now = new Date()
      await store.createSession(session('sid', user.id, now), 'h0', NO_PASSWORD)
      const ends = new Date(now.getTime() + hour)
      t.same(await store.rotateRefreshToken('h0', 'h1', now), { outcome: 'rotated', sessionId: 'sid', userId: user.id, generation: 1, expiresAt: ends }, 'with when the session ends')
      t.same(await store.rotateRefreshToken('h1', 'h2', now), { outcome: 'rotated', sessionId: 'sid', userId: user.id, generation: 2, expiresAt: ends })
      const spent = await store.rotateRefreshToken('h1', 'hx', now)
      t.match(spent, { outcome: 'spent', generation: 1, latestGeneration: 2, session: { id: 'sid', userId: user.id, revokedAt: null } }, 'the previous token')
      t.equal((spent as { usedAt: Date }).usedAt.getTime(), now.getTime())
      t.same(await store.rotateRefreshToken('h0', 'hy', now), { outcome: 'unknown' }, 'an older one is no longer stored (its mac tells the service whose it is)')
      t.equal(await store.findRefreshTokenSession('h0'), undefined)
      t.same(await store.rotateRefreshToken('unknown', 'hy', now), { outcome: 'unknown' })
      t.same(await store.rotateRefreshToken('hx', 'hz', now), { outcome: 'unknown' }, 'the failed rotation stored nothing')

      t.equal(await store.revokeSession('sid', 'test', now), user.id, 'the user whose session it was')
      t.equal(await store.revokeSession('sid', 'test', now), undefined, 'already revoked')
      const revoked = await store.rotateRefreshToken('h2', 'h3', now)
      t.match(revoked, { outcome: 'spent', usedAt: null, session: { revokedAt: Date } }, 'an unused token of a revoked session is not consumed')

      await store.createSession(session('old', user.id, new Date(now.getTime() - 2 * hour)), 'e0', NO_PASSWORD)
      t.match(await store.rotateRefreshToken('e0', 'e1', now), { outcome: 'spent', usedAt: null }, 'nor one of an expired session')
    })

    t.test('rotation: 20 concurrent consumptions of one token, exactly one child', async (t) => {
      const store = await openStore(t, dialect)
      const user = await store.createUser({ email: 'c@example.com', passwordHash: null })
      await store.createSession(session('sid', user.id, new Date()), 'parent', NO_PASSWORD)
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.rotateRefreshToken('parent', `child-${i}`, new Date())))
      t.equal(results.filter((r) => r.outcome === 'rotated').length, 1)
      t.equal(results.filter((r) => r.outcome === 'spent').length, 19)
      const children = await Promise.all(Array.from({ length: 20 }, (_, i) => store.findRefreshTokenSession(`child-${i}`)))
      t.equal(children.filter((c) => c !== undefined).length, 1, 'one child stored')
    })

    t.test('revoking all of a user\'s sessions, optionally but one', async (t) => {
      const store = await openStore(t, dialect)
      const [a, b] = await Promise.all([store.createUser({ email: 'a@example.com', passwordHash: null }), store.createUser({ email: 'b@example.com', passwordHash: null })])
      const now = new Date()
      for (const id of ['a1', 'a2', 'a3']) await store.createSession(session(id, a.id, now), `h-${id}`, NO_PASSWORD)
      await store.createSession(session('b1', b.id, now), 'h-b1', NO_PASSWORD)
      t.equal(await store.revokeUserSessions(a.id, 'password_changed', now, 'a2'), 2)
      t.equal((await store.findSession('a2'))!.session.revokedAt, null, 'the kept one')
      t.equal(await store.revokeUserSessions(a.id, 'logout_all', now), 1)
      t.equal(await store.revokeUserSessions(a.id, 'logout_all', now), 0)
      t.equal((await store.findSession('b1'))!.session.revokedAt, null, 'another user untouched')
    })

    t.test('login attempts: atomic counting per key, a new window after the old one, clear and release', async (t) => {
      const store = await openStore(t, dialect)
      const now = new Date()
      const big = (key: string) => ({ key, max: 100 })
      const hits = await Promise.all(Array.from({ length: 20 }, () => store.hitLoginAttempts([big('k'), big('ip')], 60_000, now)))
      t.ok(hits.every((h) => h.counted), 'all counted under the limit')
      t.same(hits.map((h) => h.counts[0].count).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1), 'no lost update')
      t.equal(hits[0].counts[0].resetAt.getTime(), now.getTime() + 60_000)
      await store.releaseLoginAttempt('ip')
      t.equal((await store.hitLoginAttempts([big('ip')], 60_000, now)).counts[0].count, 20, 'released one, counted one')
      await store.clearLoginAttempts('k')
      t.equal((await store.hitLoginAttempts([big('k')], 60_000, now)).counts[0].count, 1, 'cleared')
      const later = new Date(now.getTime() + 61_000)
      t.same(await store.hitLoginAttempts([big('ip')], 60_000, later),
        { counted: true, counts: [{ key: 'ip', count: 1, resetAt: new Date(later.getTime() + 60_000) }] }, 'a fresh window')
      await store.clearLoginAttempts('k')
      await store.releaseLoginAttempt('k')
      t.equal((await store.hitLoginAttempts([big('k')], 60_000, now)).counts[0].count, 1, 'releasing a missing key is harmless')
    })

    t.test('login attempts: a key already at its limit refuses the attempt and writes nothing', async (t) => {
      const store = await openStore(t, dialect)
      const now = new Date()
      for (let i = 0; i < 3; i++) t.equal((await store.hitLoginAttempts([{ key: 'ip', max: 3 }], 60_000, now)).counted, true)
      const refused = await store.hitLoginAttempts([{ key: 'email:x|ip', max: 5 }, { key: 'ip', max: 3 }], 60_000, now)
      t.same(refused, { counted: false, counts: [{ key: 'ip', count: 3, resetAt: new Date(now.getTime() + 60_000) }] })
      const db = testDatabaseOf(store)
      t.same(await db.query('select key from auth_login_attempts order by key'), [{ key: 'ip' }], 'no row for the other key')
      t.equal((await store.hitLoginAttempts([{ key: 'ip', max: 3 }], 60_000, new Date(now.getTime() + 60_000))).counted, true,
        'the next window counts again')
    })

    t.test('login peek: live counts and whether a device token is live, writing nothing', async (t) => {
      const store = await openStore(t, dialect)
      const user = await store.createUser({ email: 'k@example.com', passwordHash: null })
      const now = new Date()
      await store.createSession(session('s', user.id, now), 't0', NO_PASSWORD, { tokenHash: 'dev', expiresAt: new Date(now.getTime() + hour) })
      for (let i = 0; i < 2; i++) await store.hitLoginAttempts([{ key: 'ip', max: 5 }], 60_000, now)
      const limits = [{ key: 'email', max: 5 }, { key: 'ip', max: 5 }]
      t.same(await store.peekLogin(limits, undefined, now), { counts: [{ key: 'ip', count: 2, resetAt: new Date(now.getTime() + 60_000) }], deviceLive: false })
      t.equal((await store.peekLogin(limits, { tokenHash: 'dev', userId: user.id, max: 10 }, now)).deviceLive, true)
      t.equal((await store.peekLogin(limits, { tokenHash: 'dev', userId: 'someone-else', max: 10 }, now)).deviceLive, false, 'only for its own user')
      t.equal((await store.peekLogin(limits, { tokenHash: 'other', userId: user.id, max: 10 }, now)).deviceLive, false)
      await store.hitDeviceToken('dev', user.id, 10, now)
      t.equal((await store.peekLogin(limits, { tokenHash: 'dev', userId: user.id, max: 1 }, now)).deviceLive, false, 'at its failure limit')
      t.same(await store.peekLogin(limits, undefined, new Date(now.getTime() + 61_000)), { counts: [], deviceLive: false }, 'an ended window is no count')
      t.same(await testDatabaseOf(store).query('select key, count from auth_login_attempts'), [{ key: 'ip', count: 2 }], 'nothing written')
      await store.revokeDeviceTokens(user.id, now)
      t.equal((await store.peekLogin(limits, { tokenHash: 'dev', userId: user.id, max: 10 }, now)).deviceLive, false, 'revoked')
    })

    t.test('purge: ended sessions with all their tokens, ended device tokens and windows; a live session keeps its used tokens', async (t) => {
      const store = await openStore(t, dialect)
      const user = await store.createUser({ email: 'p@example.com', passwordHash: null })
      const now = new Date()
      const device = (hash: string, ttl = hour) => ({ tokenHash: hash, expiresAt: new Date(now.getTime() + ttl) })
      await store.createSession(session('live', user.id, now), 'l0', NO_PASSWORD, device('d-live'))
      await store.rotateRefreshToken('l0', 'l1', now)
      await store.createSession(session('gone', user.id, new Date(now.getTime() - 2 * hour)), 'g0', NO_PASSWORD, device('d-old', -hour))
      await store.createSession(session('out', user.id, now), 'o0', NO_PASSWORD, device('d-out'))
      await store.revokeSession('out', 'logout', now)
      await store.hitLoginAttempts([{ key: 'old', max: 5 }], 1, new Date(now.getTime() - 1000))
      await store.hitLoginAttempts([{ key: 'fresh', max: 5 }], 60_000, now)
      t.equal(await store.purgeExpired(now), 6, 'two sessions, their two tokens, one expired device token, one window')
      t.equal(await store.findRefreshTokenSession('l0'), 'live', 'the used token of the live session stays')
      t.equal(await store.findRefreshTokenSession('l1'), 'live', 'the live token stays')
      t.equal(await store.revokeDeviceTokens(user.id, now), 2, 'two device tokens were live')
      t.equal(await store.purgeExpired(now), 2, 'revoked device tokens go')
      t.equal(await store.purgeExpired(now), 0)
    })
  })
}

t.test('the database shortcut opens the dialect its value names; closing twice is harmless', async (t) => {
  const common = { usersTable: undefined, migrate: true, postgresPool: {} }
  const sqlite = await openShortcut({ ...common, database: ':memory:' })
  t.same([sqlite.dialect, sqlite.mode], ['sqlite', 'sync'])
  t.equal(sqlite.findSession('none'), undefined, 'answered without a promise, migrated')
  await sqlite.close()
  await t.resolves(sqlite.close())
  const pg = await openShortcut({ ...common, database: 'postgres://postgres@127.0.0.1:1/none', migrate: false })
  t.same([pg.dialect, pg.mode], ['postgresql', 'async'])
  await pg.close()
  await t.resolves(pg.close())
})

t.test('a missing driver is a ConfigurationError naming the package to install; other load failures pass through', async (t) => {
  const missing = Object.assign(new Error("Cannot find package 'pg' imported from /app/node_modules/fastify-drizzle-auth/dist/db/pg/open.js"), { code: 'ERR_MODULE_NOT_FOUND' })
  await t.rejects(loadDialect('pg', () => Promise.reject(missing)), { code: 'configuration_error', message: /needs the 'pg' package: npm install pg/ })
  const other = Object.assign(new Error("Cannot find module './gone.js'"), { code: 'ERR_MODULE_NOT_FOUND' })
  await t.rejects(loadDialect('pg', () => Promise.reject(other)), other)
  t.equal(await loadDialect('pg', async () => 'loaded'), 'loaded')
})

t.test('the dialect factories and the store option refuse what they cannot use, saying what to pass', async (t) => {
  t.throws(() => sqliteStore({} as never), { code: 'configuration_error', message: /sqliteStore\(\) takes a file path/ })
  t.throws(() => pgStore({} as never), { code: 'configuration_error', message: /pgStore\(\) takes a postgres:\/\/ URL/ })
  t.throws(() => new AuthService({ store: {} as never, secret: 'x'.repeat(32) }), { code: 'configuration_error', message: /`store` must be an AuthStore/ })
})
