import { readdirSync } from 'node:fs'
import { createServer, connect, type Server, type Socket } from 'node:net'
import Fastify from 'fastify'
import pg from 'pg'
import { drizzle } from 'drizzle-orm/node-postgres'
import t from 'tap'
import fastifyDrizzleAuth from '../src/index.ts'
import { migrate } from '../src/db/pg/index.ts'
import { PASSWORD, SECRET, bearer, login, registerAndLogin } from './fixtures/app.ts'
import { createTestDatabase, requirePostgres } from './fixtures/databases.ts'

const PG_MIGRATIONS = readdirSync(new URL('../drizzle/pg', import.meta.url)).filter((f) => f.endsWith('.sql')).length

const unhandled: unknown[] = []
process.on('unhandledRejection', (err) => { unhandled.push(err) })

/** A TCP relay to the PostgreSQL server that the test can cut and restore: a real network outage. */
class Relay {
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()
  port = 0
  constructor (readonly target: URL) {}

  async start (): Promise<void> {
    this.#server = createServer((client) => {
      const upstream = connect(Number(this.target.port || 5432), this.target.hostname)
      for (const s of [client, upstream]) { this.#sockets.add(s); s.on('close', () => this.#sockets.delete(s)); s.on('error', () => {}) }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve))
    this.port = (this.#server.address() as { port: number }).port
  }

  async cut (): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server!.close(() => resolve()))
  }
}

if (await requirePostgres()) {
  t.test('PostgreSQL goes away and comes back: 503 meanwhile, success after, no restart, no unhandled rejection', async (t) => {
    const db = await createTestDatabase('postgresql')
    t.teardown(() => db.close())
    const relay = new Relay(new URL(db.url!))
    await relay.start()
    t.teardown(() => app.close())
    const url = new URL(db.url!)
    url.port = String(relay.port)
    const app = Fastify()
    await app.register(fastifyDrizzleAuth, { database: url.toString(), secret: SECRET, bcryptRounds: 4, routes: true, postgresPool: { connectionTimeoutMillis: 1000 } })
    const { accessToken } = await registerAndLogin(app)

    await relay.cut()
    const me = await app.inject({ url: '/me', headers: bearer(accessToken) })
    t.equal(me.statusCode, 503, 'loginRequired: 503, not 401')
    t.same(me.json(), { detail: 'Authentication service unavailable', code: 'service_unavailable' })
    const loginRes = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
    t.equal(loginRes.statusCode, 503, '/login: 503')
    t.notMatch(loginRes.body, /ECONN|127\.0\.0\.1|postgres/i, 'nothing internal in the body')
    const register = await app.inject({ method: 'POST', url: '/register', payload: { email: 'new@example.com', password: PASSWORD } })
    t.equal(register.statusCode, 503, '/register: 503')

    await relay.start()
    t.teardown(() => relay.cut())
    t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200, 'back without a restart')
    t.ok(await login(app), 'logins work again')
    await new Promise((resolve) => setImmediate(resolve))
    t.same(unhandled, [])
  })

  t.test('PostgreSQL down at start-up: the app starts, answers 503, and migrates and serves once it is up', async (t) => {
    const db = await createTestDatabase('postgresql')
    t.teardown(() => db.close())
    const relay = new Relay(new URL(db.url!))
    await relay.start()
    await relay.cut() // the port is known, nothing listens on it yet
    const url = new URL(db.url!)
    url.port = String(relay.port)
    const app = Fastify()
    await app.register(fastifyDrizzleAuth, { database: url.toString(), secret: SECRET, bcryptRounds: 4, routes: true, postgresPool: { connectionTimeoutMillis: 1000 } })
    t.teardown(() => app.close())
    const down = await app.inject({ method: 'POST', url: '/register', payload: { email: 'late@example.com', password: PASSWORD } })
    t.equal(down.statusCode, 503)
    await relay.start()
    t.teardown(() => relay.cut())
    const up = await app.inject({ method: 'POST', url: '/register', payload: { email: 'late@example.com', password: PASSWORD } })
    t.equal(up.statusCode, 201, 'the migrations ran on the first call that reached the server')
    const { accessToken } = await login(app, 'late@example.com')
    t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200)
  })

  t.test('an ended pool of the application: 503 from loginRequired and /login', async (t) => {
    const db = await createTestDatabase('postgresql')
    t.teardown(() => db.close())
    const pool = new pg.Pool({ connectionString: db.url })
    pool.on('error', () => {})
    const drizzleDb = drizzle(pool)
    await migrate(drizzleDb)
    const app = Fastify()
    await app.register(fastifyDrizzleAuth, { database: drizzleDb, secret: SECRET, bcryptRounds: 4, routes: true })
    t.teardown(() => app.close())
    const { accessToken } = await registerAndLogin(app)
    await pool.end()
    t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 503)
    t.equal((await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })).statusCode, 503)
  })

  t.test('a wrong port: the app starts, answers 503 where the database is needed, and 401 without a token', async (t) => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as { port: number }).port
    await new Promise<void>((resolve) => closed.close(() => resolve())) // nothing listens there now
    const lines: string[] = []
    const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
    await app.register(fastifyDrizzleAuth, { database: `postgres://postgres@127.0.0.1:${port}/test`, secret: SECRET, routes: true })
    t.teardown(() => app.close())
    t.match(lines.join(''), /cannot be reached yet/)
    const forged = 'eyJhbGciOiJIUzI1NiJ9.e30.x'
    t.equal((await app.inject({ url: '/me' })).statusCode, 401, 'no token: the plain 401')
    t.equal((await app.inject({ url: '/me', headers: bearer(forged) })).statusCode, 401, 'a bad token needs no database')
    t.equal((await app.inject({ method: 'POST', url: '/login', payload: { email: 'a@example.com', password: PASSWORD } })).statusCode, 503)
    t.equal((await app.inject({ method: 'POST', url: '/register', payload: { email: 'a@example.com', password: PASSWORD } })).statusCode, 503)
  })

  t.test('a server that never answers, or hangs up during the handshake, is "not reachable yet" too', async (t) => {
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => { sockets.add(socket) }) // accepts, never speaks
    const rude = createServer((socket) => { socket.destroy() }) // accepts, hangs up at once
    for (const server of [silent, rude]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { for (const s of sockets) s.destroy(); silent.close(); rude.close() })
    for (const [name, server] of [['silent', silent], ['rude', rude]] as const) {
      const lines: string[] = []
      const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
      const port = (server.address() as { port: number }).port
      await app.register(fastifyDrizzleAuth, {
        database: `postgres://postgres@127.0.0.1:${port}/test`, secret: SECRET, routes: true, postgresPool: { connectionTimeoutMillis: 300 }
      })
      t.match(lines.join(''), /cannot be reached yet/, `${name}: started anyway`)
      t.equal((await app.inject({ method: 'POST', url: '/login', payload: { email: 'a@example.com', password: PASSWORD } })).statusCode, 503, `${name}: 503`)
      await app.close()
    }
  })

  t.test('a PostgreSQL database the application migrated itself, with migrate: false', async (t) => {
    const db = await createTestDatabase('postgresql')
    const pool = new pg.Pool({ connectionString: db.url })
    // The pool ends before the database is dropped (dropping it with force would kill its idle clients).
    t.teardown(async () => { await pool.end(); await db.close() })
    const drizzleDb = drizzle(pool)
    await migrate(drizzleDb)
    await migrate(drizzleDb)
    t.same(await db.query('select count(*)::int as n from drizzle.__fastify_drizzle_auth_migrations'), [{ n: PG_MIGRATIONS }], 'twice is a no-op')
    const app = Fastify()
    await app.register(fastifyDrizzleAuth, { database: drizzleDb, migrate: false, secret: SECRET, bcryptRounds: 4, routes: true })
    t.teardown(() => app.close())
    t.ok(await registerAndLogin(app))
  })

  t.test('two pools migrating one new database at the same moment both succeed (the loser retries)', async (t) => {
    const db = await createTestDatabase('postgresql')
    const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: db.url }))
    // The pools end before the database is dropped (dropping it with force would kill their idle clients); a
    // client still closing when the drop lands reports the termination on its pool, which must not crash the run.
    for (const pool of pools) pool.on('error', () => {})
    t.teardown(async () => { await Promise.all(pools.map((p) => p.end())); await db.close() })
    await Promise.all(pools.map((pool) => migrate(drizzle(pool))))
    t.same(await db.query('select count(*)::int as n from drizzle.__fastify_drizzle_auth_migrations'), [{ n: PG_MIGRATIONS }], 'applied once')
  })

  t.test('a migration that cannot apply still fails ready()', async (t) => {
    const db = await createTestDatabase('postgresql')
    t.teardown(() => db.close())
    await db.query('create table auth_users (unrelated text)')
    const app = Fastify()
    app.register(fastifyDrizzleAuth, { database: db.url!, secret: SECRET })
    const err = await app.ready().then(() => undefined, (e: unknown) => e)
    const messages: string[] = []
    for (let e: unknown = err; e instanceof Error; e = e.cause) messages.push(e.message)
    t.match(messages.join(' | '), /already exists/, 'the migration error, after its retries')
    await app.close().catch(() => {})
  })
}
