/**
 * The session lookups of one event-loop turn are answered together (one read transaction on
 * SQLite, one statement on PostgreSQL), each exactly as it would be alone, and never from a snapshot older
 * than the requests themselves.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { AuthService, type FoundSession, ServiceUnavailableError } from '../src/index.ts'
import type { PgAuthStore } from '../src/db/pg/index.ts'
import { SqliteAuthStore, migrate, openSqlite } from '../src/db/sqlite/index.ts'
import { CountingStore } from './fixtures/counting-store.ts'
import { PASSWORD, SECRET, bearer, buildApp, login, registerAndLogin, testDatabase } from './fixtures/app.ts'
import { availableDialects, createTestDatabase } from './fixtures/databases.ts'
import { readOnlyStoreWithoutTriggers } from './fixtures/read-only-store.ts'
import { counts, lookups, until } from './fixtures/session-memory.ts'
import { tempDir } from './fixtures/temp.ts'
import { findMany } from '../src/db/turn-batch.ts'

type App = Awaited<ReturnType<typeof buildApp>>

/** The session an access token names (its `sid` claim). */
function sid (token: string): string {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sid
}

/** Four sessions: alice twice, bob live, bob logged out. */
async function sessions (app: App) {
  const alice = await registerAndLogin(app)
  const alice2 = await login(app)
  const bob = await registerAndLogin(app, 'bob@example.com')
  const bobOut = await login(app, 'bob@example.com')
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(bobOut.accessToken) })).statusCode, 200)
  return { alice, alice2, bob, bobOut }
}

/** The requests all start in one turn, so their lookups are gathered together. */
async function together (app: App, tokens: string[]) {
  return Promise.all(tokens.map(async (token) => app.inject({ url: '/me', headers: bearer(token) })))
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: concurrent requests are looked up together, each answered as alone`, async (t) => {
    const app = await buildApp({}, {}, dialect)
    t.teardown(() => app.close())
    const { alice, alice2, bob, bobOut } = await sessions(app)
    const sqlite = app.authService.store instanceof SqliteAuthStore ? app.authService.store : undefined
    const shared = sqlite === undefined ? undefined : lookups(sqlite).sharedReads
    const tokens = [alice, bobOut, alice2, bob, alice, 'x.y.z'].map((s) => typeof s === 'string' ? s : s.accessToken)
    const answers = await together(app, tokens)
    t.same(answers.map((r) => r.statusCode), [200, 401, 200, 200, 200, 401])
    t.same(answers.map((r) => r.statusCode === 200 ? r.json().email : r.headers['www-authenticate']),
      ['alice@example.com', 'Bearer error="invalid_token"', 'alice@example.com', 'bob@example.com', 'alice@example.com', 'Bearer error="invalid_token"'])
    t.same(answers[1].json(), { detail: 'Authentication required' }, 'the logged-out session is refused in the batch')
    if (sqlite !== undefined) t.equal(lookups(sqlite).sharedReads, shared! + 1, 'one read transaction for the turn')

    // A revocation committed between two turns is seen by the next one, for that session only.
    const db = testDatabase(app)
    await db.query(`update auth_sessions set revoked_at = ${dialect === 'sqlite' ? Date.now() : 'now()'} where id = '${sid(alice2.accessToken)}'`)
    const next = await together(app, [alice.accessToken, alice2.accessToken, bob.accessToken])
    t.same(next.map((r) => r.statusCode), [200, 401, 200])
  })

  t.test(`${dialect}: a user changed or deleted between turns is seen by the next turn, whichever of its sessions comes`, async (t) => {
    const app = await buildApp({}, {}, dialect)
    t.teardown(() => app.close())
    const alice = await registerAndLogin(app)
    const alice2 = await login(app)
    const alice3 = await login(app)
    const bob = await registerAndLogin(app, 'bob@example.com')
    const bob2 = await login(app, 'bob@example.com')
    const first = await together(app, [alice.accessToken, bob.accessToken])
    t.same(first.map((r) => r.json().email), ['alice@example.com', 'bob@example.com'], 'both users read once')
    const db = testDatabase(app)
    // Sessions never looked up before, so only a user remembered from the first turn could answer for them.
    await db.query("update auth_users set email = 'alice.new@example.com' where email = 'alice@example.com'")
    const renamed = await together(app, [alice2.accessToken, bob2.accessToken])
    t.same(renamed.map((r) => r.json().email), ['alice.new@example.com', 'bob@example.com'], 'the new email, not the remembered one')
    await db.query(`update auth_users set is_active = ${dialect === 'sqlite' ? 0 : 'false'} where email = 'alice.new@example.com'`)
    const inactive = await together(app, [alice3.accessToken, bob.accessToken])
    t.same(inactive.map((r) => r.statusCode), [401, 200], 'the deactivated user is refused on a session never looked up before')
    await db.query("delete from auth_users where email = 'bob@example.com'")
    const deleted = await together(app, [bob2.accessToken, alice.accessToken])
    t.same(deleted.map((r) => r.statusCode), [401, 401], "a deleted user's session is refused")
    t.same(deleted[0].json(), { detail: 'Authentication required' })
  })

  t.test(`${dialect}: a store failure in a gathered turn is 503 for every request in it, never 401 or 200`, async (t) => {
    const created = await createTestDatabase(dialect)
    const errors: string[] = []
    const service = new AuthService({ database: created.database as never, secret: SECRET, bcryptRounds: 4, logger: { warn: () => {}, error: (_o, msg) => { errors.push(String(msg)) } } })
    t.teardown(async () => { await service.close().catch(() => {}); await created.close() })
    await service.ready()
    await service.register('carol@example.com', PASSWORD)
    const carol = await service.login('carol@example.com', PASSWORD)
    const carol2 = await service.login('carol@example.com', PASSWORD)
    // SQLite: the application's own connection closes; PostgreSQL: the service's pool ends.
    await (dialect === 'sqlite' ? created.close() : service.close())
    const outcomes = await Promise.allSettled([service.verifyAccessToken(carol.accessToken), service.verifyAccessToken(carol2.accessToken)])
    t.same(outcomes.map((o) => o.status), ['rejected', 'rejected'])
    for (const o of outcomes) t.type((o as PromiseRejectedResult).reason, ServiceUnavailableError)
    t.same(errors.filter((e) => e === 'fastify-drizzle-auth: the store failed'), ['fastify-drizzle-auth: the store failed'], 'logged once as a store failure')
  })
}

t.test('a verification callback that throws is logged, and the others of its turn are still answered', async (t) => {
  const errors: Array<[object, string | undefined]> = []
  const service = new AuthService({ database: ':memory:', secret: SECRET, bcryptRounds: 4, logger: { warn: () => {}, error: (o, msg) => { errors.push([o, msg]) } } })
  t.teardown(() => service.close())
  await service.ready()
  await service.register('dave@example.com', PASSWORD)
  const { accessToken } = await service.login('dave@example.com', PASSWORD)
  const answered = new Promise<string>((resolve) => {
    service.verifyAccessToken(accessToken, () => { throw new Error('a broken callback') })
    service.verifyAccessToken(accessToken, (err, verified) => { resolve(err === null ? verified!.user.email : err.message) })
  })
  t.equal(await answered, 'dave@example.com')
  t.equal(errors.length, 1)
  t.equal(errors[0][1], 'fastify-drizzle-auth: a token verification callback threw')
  t.match(errors[0][0], { err: { message: 'a broken callback' } })
})

function sqliteFile (t: Test) {
  const path = join(tempDir(t, 'fda-batched-'), 'auth.sqlite')
  const opened = openSqlite(path, { backgroundCheckpoints: false })
  t.teardown(() => opened.close())
  migrate(opened.db)
  return { path, opened }
}

async function twoSessions (store: SqliteAuthStore, client: Database.Database) {
  const user = await store.users.create({ email: 'erin@example.com', passwordHash: null })
  const insert = client.prepare('insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at) values (?, ?, 0, 0, ?)')
  insert.run('s1', user.id, Date.now() + 60_000)
  insert.run('s2', user.id, Date.now() + 60_000)
}

t.test('SQLite batch lookup: answers in the order asked, one read transaction only where it saves one', async (t) => {
  const { opened } = sqliteFile(t)
  const store = new SqliteAuthStore(opened.db)
  const client = opened.db.$client
  await twoSessions(store, client)
  const ids = (found: ReturnType<typeof store.sessions[typeof findMany]>) => found.map((f) => f?.session.id)
  t.same(ids(store.sessions[findMany](['s2', 'nope', 's1', 's2'])), ['s2', undefined, 's1', 's2'])
  t.equal(lookups(store).sharedReads, 1)
  t.same(counts(store), { hits: 1, misses: 3 }, 's2 asked twice: the second from memory (the version read once)')
  t.same(ids(store.sessions[findMany](['s1'])), ['s1'], 'one lookup alone needs no transaction of its own')
  t.equal(lookups(store).sharedReads, 1)
  t.same(ids(client.transaction(() => store.sessions[findMany](['s1', 's2']))()), ['s1', 's2'], 'inside the application\'s transaction: looked up one by one')
  t.equal(lookups(store).sharedReads, 1)
  t.equal(client.inTransaction, false)
  // Remembered answers are checked against the batch's own snapshot: a revocation before it is seen.
  client.prepare('update auth_sessions set revoked_at = ? where id = ?').run(Date.now(), 's1')
  const [s1, s2] = store.sessions[findMany](['s1', 's2'])
  t.not(s1?.session.revokedAt, null)
  t.equal(s2?.session.revokedAt, null)
  t.equal(lookups(store).sharedReads, 2)
})

t.test('SQLite batch lookup without triggers (read-only): any commit between batches is seen', async (t) => {
  const { path, opened } = sqliteFile(t)
  const writer = new SqliteAuthStore(opened.db)
  await twoSessions(writer, opened.db.$client)
  const { store } = readOnlyStoreWithoutTriggers(t, path, opened.db.$client)
  t.same(store.sessions[findMany](['s1', 's2', 's1']).map((f) => f?.session.revokedAt), [null, null, null])
  t.same(counts(store), { hits: 1, misses: 2 })
  t.equal(lookups(store).sharedReads, 1)
  opened.db.$client.prepare('update auth_sessions set revoked_at = ? where id = ?').run(Date.now(), 's2')
  const [s1, s2] = store.sessions[findMany](['s1', 's2'])
  t.equal(s1?.session.revokedAt, null)
  t.not(s2?.session.revokedAt, null, 'the revocation is seen')
  t.same(counts(store), { hits: 1, misses: 4 })
})

if ((await availableDialects()).includes('postgresql')) {
  t.test('PostgreSQL batch lookup: one statement, duplicates and unknown ids answered in order; the cache answers what it holds', async (t) => {
    const app = await buildApp({ sessionCache: { enabled: true, maxStalenessMs: 60_000 } }, {}, 'postgresql')
    t.teardown(() => app.close())
    const { alice, bob } = await sessions(app)
    const store = app.authService.store as PgAuthStore
    await store.listen()
    // Four logins (each stamps last_login) and a logout: five notifications, let them all arrive first.
    await until(() => lookups(store).notifications! >= 5)
    const ids = (found: Array<FoundSession | undefined>) => found.map((f) => f?.user.email)
    const before = counts(store)
    t.same(ids(await store.sessions[findMany]([sid(alice.accessToken), 'nope', sid(bob.accessToken), sid(alice.accessToken)])),
      ['alice@example.com', undefined, 'bob@example.com', 'alice@example.com'])
    const after = counts(store)
    t.equal(after.misses - before.misses, 4, 'nothing remembered yet: all four asked in the one statement')
    t.same(ids(await store.sessions[findMany]([sid(bob.accessToken), 'nope'])), ['bob@example.com', undefined])
    const last = counts(store)
    t.same({ hits: last.hits - after.hits, misses: last.misses - after.misses }, { hits: 1, misses: 1 }, 'bob from memory, the unknown id asked again')
    t.equal(lookups(store).notifications, 5, 'nothing was notified meanwhile')
  })
}

t.test('a synchronous store without the batch lookup is asked one by one, before verifyAccessToken returns', async (t) => {
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  migrate(db)
  let failing = false
  // The application's own synchronous store: the real one's facets, its sessions without the batch method and
  // with a switch that breaks the lookup.
  const store = new SqliteAuthStore(db)
  const real = store.sessions
  const sessions = {
    create: real.create.bind(real),
    rotateRefreshToken: real.rotateRefreshToken.bind(real),
    findByRefreshToken: real.findByRefreshToken.bind(real),
    revoke: real.revoke.bind(real),
    revokeForUser: real.revokeForUser.bind(real),
    find: (id: string) => {
      if (failing) throw new Error('disk I/O error')
      return real.find(id)
    }
  }
  Object.defineProperty(store, 'sessions', { value: sessions })
  const service = new AuthService({ store, secret: SECRET, bcryptRounds: 4, logger: { warn: () => {}, error: () => {} } })
  t.teardown(() => service.close())
  await service.register('frank@example.com', PASSWORD)
  const { accessToken } = await service.login('frank@example.com', PASSWORD)
  const shared = lookups(store).sharedReads
  let answer: string | undefined
  service.verifyAccessToken(accessToken, (err, verified) => { answer = err === null ? verified!.user.email : err.constructor.name })
  t.equal(answer, 'frank@example.com', 'answered synchronously')
  failing = true
  service.verifyAccessToken(accessToken, (err) => { answer = err?.constructor.name })
  t.equal(answer, 'ServiceUnavailableError')
  t.equal(lookups(store).sharedReads, shared, 'no batch')
})

if ((await availableDialects()).includes('postgresql')) {
  t.test('PostgreSQL: a store whose sessions answer one lookup at a time is asked one by one', async (t) => {
    const created = await createTestDatabase('postgresql')
    t.teardown(() => created.close())
    const { pgStore } = await import('../src/db/pg/index.ts')
    const store = new CountingStore(pgStore(created.url!), { batched: false })
    const service = new AuthService({ store, secret: SECRET, bcryptRounds: 4 })
    t.teardown(() => service.close())
    await service.register('gina@example.com', PASSWORD)
    const one = await service.login('gina@example.com', PASSWORD)
    const two = await service.login('gina@example.com', PASSWORD)
    const verified = await Promise.all([service.verifyAccessToken(one.accessToken), service.verifyAccessToken(two.accessToken)])
    t.same(verified.map((v) => v.user.email), ['gina@example.com', 'gina@example.com'])
    t.equal(store.calls.get('sessions.find'), 2, 'each token asked alone')
    t.equal(store.calls.get('sessions.findMany'), undefined)
  })
}
