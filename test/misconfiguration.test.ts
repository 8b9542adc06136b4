/**
 * No silent misconfiguration: a URL of another scheme, the registration's own prefix, and
 * a database that refuses at start for a reason that will not fix itself.
 */
import Fastify from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, { ConfigurationError } from '../src/index.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'
import { PG_URL, requirePostgres } from './fixtures/databases.ts'
import { sqliteStore } from '../src/db/sqlite/index.ts'

t.test('a database URL of any scheme but postgres:// fails ready() naming the scheme; no file is created', async (t) => {
  for (const url of ['mysql://user:secret-pw@localhost/app', 'postgress://postgres@127.0.0.1/test', 'sqlite://data.db', 'redis://127.0.0.1:6379']) {
    const app = Fastify()
    const scheme = url.split(':')[0]
    await t.rejects(async () => { await app.register(fastifyDrizzleAuth, { database: url, secret: SECRET }); await app.ready() }, {
      name: 'ConfigurationError', message: new RegExp(`is a ${scheme}:// URL, which is not supported: use a postgres://`)
    }, scheme)
    await app.close().catch(() => {})
  }
  t.same((await import('node:fs')).readdirSync('.').filter((name) => name.includes('://') || name.startsWith('mysql:')), [], 'no file named after a URL')
})

t.test('the registration prefix applies to the bundled routes and composes with routes.prefix', async (t) => {
  for (const [options, path] of [[{ prefix: '/api', routes: true }, '/api/login'], [{ prefix: '/api/', routes: { prefix: '/auth' } }, '/api/auth/login']] as const) {
    const app = Fastify()
    await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4, ...options })
    t.teardown(() => app.close())
    await app.authService.register('p@example.com', PASSWORD)
    const login = await app.inject({ method: 'POST', url: path, payload: { email: 'p@example.com', password: PASSWORD } })
    t.equal(login.statusCode, 200, path)
    t.equal((await app.inject({ method: 'POST', url: '/login', payload: { email: 'p@example.com', password: PASSWORD } })).statusCode, 404, 'not at the root')
  }
  const bad = Fastify()
  await t.rejects(async () => { await bad.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, prefix: 'api' }); await bad.ready() }, ConfigurationError)
})

t.test('PostgreSQL refusing at start for good (unknown database, unknown role) fails ready() with the reason, never the password', async (t) => {
  if (!await requirePostgres()) return
  const url = new URL(PG_URL)
  const cases = [
    { change: (u: URL) => { u.pathname = '/fda_no_such_database'; u.password = 'secret-pw-123' }, reason: /database "fda_no_such_database" does not exist \(3D000\)/ },
    { change: (u: URL) => { u.username = 'fda_no_such_role'; u.password = 'secret-pw-123' }, reason: /role "fda_no_such_role" does not exist \(28000\)/ }
  ]
  for (const { change, reason } of cases) {
    const target = new URL(url)
    change(target)
    const app = Fastify()
    const err = await (async () => { await app.register(fastifyDrizzleAuth, { database: target.toString(), secret: SECRET }); await app.ready() })().then(() => null, (e: unknown) => e)
    t.ok(err instanceof ConfigurationError, String(err))
    t.match((err as Error).message, /^fastify-drizzle-auth: the database refused at start: /)
    t.match((err as Error).message, reason)
    t.notMatch((err as Error).message, /secret-pw-123/)
    await app.close().catch(() => {})
  }
  const bare = PG_URL.replace(/\/\/([^:@/]+)(:[^@]*)?@/, '//$1:@').replace(/\/[^/]*$/, '/fda_no_such_database_either')
  const app = Fastify()
  await t.rejects(async () => { await app.register(fastifyDrizzleAuth, { database: bare, secret: SECRET }); await app.ready() },
    { message: /database "fda_no_such_database_either" does not exist/ }, 'an empty password in the URL')
  await app.close().catch(() => {})
  // Passwords that need percent-encoding, one that does not even decode: still ready() fails with the reason.
  for (const password of ['%zz-secret-pw', 'a%40b-secret-pw']) {
    const odd = PG_URL.replace(/\/\/([^:@/]+)(:[^@]*)?@/, `//$1:${password}@`).replace(/\/[^/]*$/, '/fda_no_such_database_either')
    const other = Fastify()
    const err = await (async () => { await other.register(fastifyDrizzleAuth, { database: odd, secret: SECRET }); await other.ready() })().then(() => null, (e: unknown) => e)
    t.match(err, { name: 'ConfigurationError', message: /does not exist/ }, password)
    t.notMatch((err as Error).message, /secret-pw/)
    await other.close().catch(() => {})
  }
})

t.test('a store of the application\'s own that refuses at start fails ready() with its reason', async (t) => {
  const store = sqliteStore(':memory:')
  store.ready = async () => { throw new Error('the schema is two versions ahead') }
  const app = Fastify()
  await t.rejects(async () => { await app.register(fastifyDrizzleAuth, { store, secret: SECRET }); await app.ready() },
    { name: 'ConfigurationError', message: 'fastify-drizzle-auth: the database refused at start: the schema is two versions ahead' })
  await app.close().catch(() => {})
  await store.close()
})
