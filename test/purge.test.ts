/**
 * Purging keeps reuse detection alive for a live session; the plugin purges on an
 * interval by itself (one instance at a time on PostgreSQL) and stops when it closes.
 * The plugin's access tokens live accessTokenTtl seconds (the plugin no longer registers @fastify/jwt,
 * so there is no fastify.jwt.sign() of its own: see jwt-coexistence.test.ts).
 */
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import pg from 'pg'
import t from 'tap'
import fastifyDrizzleAuth from '../src/index.ts'
import { openSqlite } from '../src/db/sqlite/index.ts'
import { SECRET, bearer, buildApp, registerAndLogin, testDatabase } from './fixtures/app.ts'
import { availableDialects, createTestDatabase } from './fixtures/databases.ts'

type App = Awaited<ReturnType<typeof buildApp>>

/**
 * The next `expired_purged` event that satisfies `accept`. The plugin's timer does not keep the process alive
 * (by design), so this wait holds a timer of its own, which also bounds it.
 */
function nextPurge (app: App, accept: (count: number) => boolean = () => true): Promise<number> {
  return new Promise((resolve, reject) => {
    const bound = setTimeout(() => { off(); reject(new Error('no purge within 10 s')) }, 10_000)
    const off = app.authService.on('expired_purged', ({ count }) => {
      if (!accept(count)) return
      clearTimeout(bound)
      off()
      resolve(count)
    })
  })
}

for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    t.test('after a purge, a replayed refresh token still revokes the session and the thief\'s newer tokens', async (t) => {
      const app = await buildApp({ refreshReuseGraceSeconds: 0, purgeIntervalSeconds: 0 }, {}, dialect)
      t.teardown(() => app.close())
      const stolen = await registerAndLogin(app)
      const thief = (await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: stolen.refreshToken } })).json()
      t.equal(await app.authService.purgeExpired(), 0, 'nothing of a live session is purged')
      const replay = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: stolen.refreshToken } })
      t.equal(replay.statusCode, 401)
      t.same(replay.json(), { detail: 'Refresh token reuse detected: the session has been revoked', code: 'token_revoked' })
      const [session] = await testDatabase(app).query('select revoke_reason from auth_sessions')
      t.equal(session.revoke_reason, 'refresh_token_reused')
      t.equal((await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: thief.refresh_token } })).statusCode, 401,
        "the thief's rotated token is dead")
      t.equal((await app.inject({ url: '/me', headers: bearer(thief.access_token) })).statusCode, 401, 'and so is its access token')
      t.equal(await app.authService.purgeExpired(), 3, 'once the session ended: it and both its tokens')
    })

    t.test('the plugin purges on its own every purgeIntervalSeconds', async (t) => {
      const app = await buildApp({ purgeIntervalSeconds: 1, refreshTokenTtl: 1 }, {}, dialect)
      t.teardown(() => app.close())
      await registerAndLogin(app)
      const db = testDatabase(app)
      await db.query(`update auth_sessions set expires_at = ${dialect === 'sqlite' ? 0 : "'2000-01-01'"}`)
      const purged = await nextPurge(app, (count) => count > 0)
      t.equal(purged, 2, 'the expired session and its refresh token')
      t.same(await db.query('select id from auth_sessions'), [])
    })
  })
}

t.test('purging stops when the app closes, and 0 turns it off', async (t) => {
  const app = await buildApp({ purgeIntervalSeconds: 1 })
  let runs = 0
  app.authService.on('expired_purged', () => { runs++ })
  await nextPurge(app)
  await app.close()
  const after = runs
  // Nothing can be observed of a timer that no longer exists but its silence: wait out two more intervals.
  await new Promise((resolve) => setTimeout(resolve, 2200))
  t.equal(runs, after, 'no purge after close')

  const off = await buildApp({ purgeIntervalSeconds: 0 })
  let offRuns = 0
  off.authService.on('expired_purged', () => { offRuns++ })
  await new Promise((resolve) => setTimeout(resolve, 1200))
  await off.close()
  t.equal(offRuns, 0, 'never with 0')
})

t.test('a failing purge is logged as a warning (no secret, no stack) and tried again on the next tick', async (t) => {
  const lines: Array<{ level: number, msg: string, code?: string }> = []
  let failures = 0
  const { db: database, close } = openSqlite(':memory:')
  t.teardown(close)
  const logged = new Promise<void>((resolve) => {
    const stream = new Writable({
      write (chunk, _encoding, callback) {
        const line = JSON.parse(chunk.toString())
        lines.push(line)
        if (/purging expired rows failed/.test(line.msg) && ++failures === 2) resolve()
        callback()
      }
    })
    void buildApp({ database, purgeIntervalSeconds: 1 }, { logger: { level: 'warn', stream } }).then((app) => {
      t.teardown(() => app.close())
      // The database goes away under the plugin: every purge from now on fails.
      close()
    })
  })
  const keepAlive = setTimeout(() => {}, 10_000)
  await logged
  clearTimeout(keepAlive)
  const failure = lines.find((line) => /purging expired rows failed/.test(line.msg))!
  t.equal(failure.level, 40, 'a warning')
  t.same(Object.keys(failure).filter((key) => !['level', 'time', 'pid', 'hostname', 'msg'].includes(key)), ['code'], 'only a code beside the message')
  t.equal(failures, 2, 'tried again')
})

t.test('on PostgreSQL one instance purges at a time (advisory lock)', async (t) => {
  if (!(await availableDialects()).includes('postgresql')) return
  const db = await createTestDatabase('postgresql')
  t.teardown(() => db.close())
  const app = await buildApp({ database: db.url!, purgeIntervalSeconds: 0 })
  t.teardown(() => app.close())
  await registerAndLogin(app)
  await db.query("update auth_sessions set expires_at = '2000-01-01'")
  const other = new pg.Client({ connectionString: db.url })
  await other.connect()
  t.teardown(() => other.end())
  await other.query("select pg_advisory_lock(hashtext('fastify-drizzle-auth:purge'))")
  t.equal(await app.authService.purgeExpired(), 0, 'another instance holds the lock: nothing done')
  t.same(await db.query('select count(*)::int as n from auth_sessions'), [{ n: 1 }])
  await other.query("select pg_advisory_unlock(hashtext('fastify-drizzle-auth:purge'))")
  t.equal(await app.authService.purgeExpired(), 2, 'then this one purges')
})

t.test('access tokens live accessTokenTtl seconds', async (t) => {
  for (const ttl of [undefined, 60]) {
    const app = Fastify()
    await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4, routes: true, ...(ttl === undefined ? {} : { accessTokenTtl: ttl }) })
    t.teardown(() => app.close())
    const { accessToken } = await registerAndLogin(app)
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString()) as { iat: number, exp: number }
    t.equal(claims.exp - claims.iat, ttl ?? 900, `${ttl ?? 'default'}: exp - iat`)
    t.equal((app as unknown as { jwt?: unknown }).jwt, undefined, 'and no fastify.jwt of the plugin')
  }
})
