import t from 'tap'
import pg from 'pg'
import { PASSWORD, bearer, buildApp, login, registerAndLogin, testDatabase } from './fixtures/app.ts'
import { PG_URL, requirePostgres } from './fixtures/databases.ts'

const USERS = 4
const ROUNDS = 10

/** Ends every server connection to the database `url` names (a failover, a restart, a network reset), waiting until each backend has exited. */
async function killBackends (url: string): Promise<number> {
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  try {
    const { rowCount } = await admin.query(
      'select pg_terminate_backend(pid, 5000) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [new URL(url).pathname.slice(1)]
    )
    return rowCount ?? 0
  } finally {
    await admin.end()
  }
}

if (await requirePostgres()) {
  for (const sessionCache of [undefined, { enabled: true as const }]) {
    t.test(`backends killed while logins, refreshes and /me are in flight${sessionCache === undefined ? '' : ' (sessionCache on)'}: the process lives, 503 at worst, success after`, async (t) => {
      // A small pool: a client that a lost connection left checked out would soon leave none to serve with.
      const app = await buildApp({ sessionCache, postgresPool: { max: 3, connectionTimeoutMillis: 2000 } }, {}, 'postgresql')
      t.teardown(() => app.close())
      const url = testDatabase(app).url!
      const emails = Array.from({ length: USERS }, (_, i) => `user${i}@example.com`)
      for (const email of emails) await registerAndLogin(app, email)
      const statuses = new Map<number, number>()
      let killed = 0
      for (let round = 0; round < ROUNDS; round++) {
        const sessions = await Promise.all(emails.map(async (email) => login(app, email)))
        const inFlight = sessions.flatMap((session, i) => [
          app.inject({ method: 'POST', url: '/login', payload: { email: emails[i], password: PASSWORD } }),
          app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: session.refreshToken } }),
          app.inject({ url: '/me', headers: bearer(session.accessToken) }),
          app.inject({ url: '/me', headers: bearer(session.accessToken) })
        ])
        killed += await killBackends(url)
        for (const res of await Promise.all(inFlight)) {
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
          if (res.statusCode === 503) t.same(res.json().code, 'service_unavailable')
        }
        // The pool replaces what it lost: the next requests succeed. An idle client whose connection was killed
        // may not have told the pool yet, so the first request after the kill can still meet it: a 503, never more than one.
        let after: { access_token: string } | undefined
        for (let attempt = 0; attempt < 2 && after === undefined; attempt++) {
          const res = await app.inject({ method: 'POST', url: '/login', payload: { email: emails[round % USERS], password: PASSWORD } })
          if (res.statusCode === 200) after = res.json()
          else t.equal(res.json().code, 'service_unavailable', `round ${round}: the one request that met a dead client is a 503`)
        }
        t.ok(after, `round ${round}: a login after the kill`)
        t.equal((await app.inject({ url: '/me', headers: bearer(after!.access_token) })).statusCode, 200, `round ${round}: /me after the kill`)
      }
      t.ok(killed >= ROUNDS, `backends were killed (${killed})`)
      t.same([...statuses.keys()].filter((status) => status !== 200 && status !== 503), [], `only 200 and 503 (${JSON.stringify([...statuses])})`)
    })
  }
}

if (await requirePostgres()) {
  t.test('a store on a Drizzle database over a single client (no pool) runs its transactions on that client', async (t) => {
    const { drizzle } = await import('drizzle-orm/node-postgres')
    const { pgStore } = await import('../src/db/pg/index.ts')
    const { createTestDatabase } = await import('./fixtures/databases.ts')
    const db = await createTestDatabase('postgresql')
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    t.teardown(async () => { await client.end(); await db.close() })
    const store = pgStore(drizzle(client))
    t.teardown(() => store.close())
    const user = await store.users.create({ email: 'single@example.com', passwordHash: null })
    const now = new Date()
    t.equal(await store.sessions.create({ id: 's', userId: user.id, createdAt: now, expiresAt: new Date(now.getTime() + 60_000), userAgent: null, ip: null }, 'h0', { passwordHash: null }), true)
    t.match(await store.sessions.rotateRefreshToken('h0', 'h1', now), { outcome: 'rotated', sessionId: 's' })
  })

  t.test('stores sharing one pool: one acquire listener on the pool, one error listener a client however often it is handed out', async (t) => {
    const { drizzle } = await import('drizzle-orm/node-postgres')
    const { pgStore } = await import('../src/db/pg/index.ts')
    const { createTestDatabase } = await import('./fixtures/databases.ts')
    const db = await createTestDatabase('postgresql')
    const pool = new pg.Pool({ connectionString: db.url, max: 1 })
    t.teardown(async () => { await pool.end(); await db.close() })
    const shared = drizzle(pool)
    const stores = [pgStore(shared), pgStore(shared)]
    t.equal(pool.listenerCount('acquire'), 1)
    const user = await stores[0].users.create({ email: 'shared@example.com', passwordHash: null })
    for (let i = 0; i < 3; i++) {
      const now = new Date()
      await stores[i % 2].sessions.create({ id: `s${i}`, userId: user.id, createdAt: now, expiresAt: new Date(now.getTime() + 60_000), userAgent: null, ip: null }, `h${i}`, { passwordHash: null })
    }
    const client = await pool.connect()
    t.equal(client.listenerCount('error'), 1, 'the listener once (the pool removes its idle one while the client is out)')
    client.release()
  })
}
