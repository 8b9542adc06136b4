import { existsSync, rmSync } from 'node:fs'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import Fastify from 'fastify'
import t from 'tap'
import { tempDir } from './fixtures/temp.ts'
import fastifyDrizzleAuth, { AuthService, ConfigurationError, configure, getConfig } from '../src/index.ts'
import { resetConfig } from '../src/service/config.ts'
import { openSqlite } from '../src/db/sqlite/index.ts'
import { PASSWORD, SECRET, bearer, registerAndLogin } from './fixtures/app.ts'
import { forge } from './fixtures/jwt.ts'

t.afterEach(() => { resetConfig() })

t.test('registers with { database: ":memory:", secret } and serves the bundled routes', async (t) => {
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4, routes: true })
  t.teardown(() => app.close())
  const session = await registerAndLogin(app)
  const me = await app.inject({ url: '/me', headers: bearer(session.accessToken) })
  t.equal(me.statusCode, 200)
})

t.test('a file path is opened (directory created), migrated, and closed on app.close()', async (t) => {
  const dir = tempDir(t, 'fda-')
  const file = join(dir, 'nested', 'auth.sqlite')
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: file, secret: SECRET, bcryptRounds: 4, routes: true })
  await registerAndLogin(app)
  t.ok(existsSync(file), 'the file exists')
  const store = app.authService.store
  await app.close()
  await t.rejects(store.users.findByEmail('alice@example.com'), 'the plugin closed the database it opened')

  // The data is on disk: a second app on the same file sees the user.
  const again = Fastify()
  await again.register(fastifyDrizzleAuth, { database: file, secret: SECRET, bcryptRounds: 4, routes: true })
  t.teardown(() => again.close())
  const res = await again.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(res.statusCode, 200)
})

t.test('a Drizzle database passed in is used and left open', async (t) => {
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: db, secret: SECRET, bcryptRounds: 4, routes: true })
  await registerAndLogin(app)
  await app.close()
  const rows = db.$client.prepare('select email from auth_users').all()
  t.same(rows, [{ email: 'alice@example.com' }], 'still open and holding the row')
})

t.test('configure() then register with no options: the service is created lazily on the first request', async (t) => {
  configure({ database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  const app = Fastify()
  await app.register(fastifyDrizzleAuth)
  t.equal(app.authService instanceof AuthService, true)
  app.get('/who', async (request) => ({ authenticated: request.user.isAuthenticated }))
  await app.ready()
  t.teardown(() => app.close())
  t.equal(getConfig().bcryptRounds, 4)
  const res = await app.inject({ url: '/who' })
  t.same(res.json(), { authenticated: false })
  const user = await app.authService.register('lazy@example.com', PASSWORD)
  const { accessToken } = await app.authService.login('lazy@example.com', PASSWORD)
  const who = await app.inject({ url: '/who', headers: bearer(accessToken) })
  t.same(who.json(), { authenticated: true })
  t.equal(user.email, 'lazy@example.com')
})

t.test('configure() may also come after register(), as long as it is before ready()', async (t) => {
  const app = Fastify()
  app.register(fastifyDrizzleAuth)
  configure({ database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  await app.ready()
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/anything', headers: bearer('not-a-token') })
  t.equal(res.statusCode, 404, 'the hook let the request through')
})

t.test('new AuthService() with no argument uses the global configuration', async (t) => {
  configure({ database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  const service = new AuthService()
  t.teardown(() => service.close())
  const user = await service.register('global@example.com', PASSWORD)
  t.equal((await service.login('global@example.com', PASSWORD)).user.id, user.id)
})

t.test('an explicit authService is used as given, with no other option', async (t) => {
  const service = new AuthService({ database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  t.teardown(() => service.close())
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { authService: service, routes: true })
  t.teardown(() => app.close())
  t.equal(app.authService, service)
  await service.register('given@example.com', PASSWORD)
  const res = await app.inject({ method: 'POST', url: '/login', payload: { email: 'given@example.com', password: PASSWORD } })
  t.equal(res.statusCode, 200)
  await app.close()
  t.ok(await service.getUser((await service.login('given@example.com', PASSWORD)).user.id), 'a given service is not closed by the plugin')
})

t.test('ready() fails with a ConfigurationError that says what to set', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no options and no configure()', {}, /configure\(/],
    ['missing secret', { database: ':memory:' }, /`secret` is missing/],
    ['empty secret', { database: ':memory:', secret: '' }, /`secret` is missing/],
    ['short secret', { database: ':memory:', secret: 'x'.repeat(31) }, /31 bytes, shorter than 32/],
    ['missing database', { secret: SECRET }, /`database` is missing/],
    ['bad database', { secret: SECRET, database: 42 }, /`database` must be/],
    ['bad algorithm', { database: ':memory:', secret: SECRET, algorithm: 'none' }, /`algorithm` must be one of/],
    ['bad bcrypt cost', { database: ':memory:', secret: SECRET, bcryptRounds: 3 }, /between 4 and 31/],
    ['bad ttl', { database: ':memory:', secret: SECRET, accessTokenTtl: -1 }, /accessTokenTtl/],
    ['bad scopes', { database: ':memory:', secret: SECRET, scopes: [''] }, /`scopes`/],
    ['bad routes', { database: ':memory:', secret: SECRET, routes: { prefix: 'auth' } }, /routes.prefix/],
    ['bad issuer', { database: ':memory:', secret: SECRET, issuer: '' }, /`issuer`/],
    ['a clock that is not a function', { database: ':memory:', secret: SECRET, clock: 1733400000000 }, /`clock` must be a function when set/],
    ['bad validators', { database: ':memory:', secret: SECRET, passwordValidators: ['x'] }, /passwordValidators/],
    ['bad authService', { authService: {} }, /authService/],
    ['secret of the wrong type', { database: ':memory:', secret: 12345 }, /`secret` must be a string or a Buffer/],
    ['routes of the wrong type', { database: ':memory:', secret: SECRET, routes: 5 }, /`routes` must be true, false or \{ prefix, bodyLimit, tags, registerFields, registerRequired, meFields \}/],
    ['routes body limit too small', { database: ':memory:', secret: SECRET, routes: { bodyLimit: 10 } }, /routes.bodyLimit/],
    ['bad pool options', { database: ':memory:', secret: SECRET, postgresPool: 'max=5' }, /postgresPool/],
    ['bad rate limit', { database: ':memory:', secret: SECRET, loginRateLimit: { maxAttemptsPerEmail: 0 } }, /maxAttemptsPerEmail/]
  ]
  for (const [name, options, message] of cases) {
    const app = Fastify()
    app.register(fastifyDrizzleAuth, options)
    const err = await app.ready().then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof ConfigurationError, `${name}: ConfigurationError`)
    t.match((err as Error).message, message, `${name}: says what to set`)
    await app.close().catch(() => {})
  }
})

t.test('a 32-byte Buffer secret is accepted', async (t) => {
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: Buffer.alloc(32, 7), bcryptRounds: 4 })
  t.teardown(() => app.close())
  await app.ready()
  await app.authService.register('buffer@example.com', PASSWORD)
  const { accessToken } = await app.authService.login('buffer@example.com', PASSWORD)
  t.equal((await app.authService.authenticate(accessToken)).email, 'buffer@example.com', 'tokens signed and verified with it')
})

t.test('an application @fastify/jwt with its own secret keeps it, and does not verify the plugin\'s tokens', async (t) => {
  const own = Fastify()
  const { default: fastifyJwt } = await import('@fastify/jwt')
  await own.register(fastifyJwt, { secret: 'another-application-secret-of-32-bytes!!' })
  await own.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  t.teardown(() => own.close())
  await own.ready()
  const ownToken = own.jwt.sign({ sub: 'app' })
  t.equal(own.jwt.verify<{ sub: string }>(ownToken).sub, 'app', "the application's @fastify/jwt keeps its own key")
  await own.authService.register('own@example.com', PASSWORD)
  const login = await own.authService.login('own@example.com', PASSWORD)
  t.throws(() => own.jwt.verify(login.accessToken), 'our tokens are not signed with its key')
  t.equal((await own.authService.authenticate(login.accessToken)).email, 'own@example.com', 'the plugin still verifies its own')
})

t.test('configure() refuses a non-object with a ConfigurationError', async (t) => {
  t.throws(() => configure(null as never), ConfigurationError)
  t.throws(() => getConfig(), /not configured/)
})

t.test('the global pattern really is lazy: the database is opened by the first request', async (t) => {
  const dir = tempDir(t, 'fda-lazy-')
  const file = join(dir, 'lazy.sqlite')
  configure({ database: file, secret: SECRET, bcryptRounds: 4 })
  const app = Fastify()
  await app.register(fastifyDrizzleAuth)
  await app.ready()
  t.teardown(() => app.close())
  t.notOk(existsSync(file), 'nothing opened at ready()')
  // A token with the right key and claims: checking it needs the store, so the request waits for it to open.
  const now = Math.floor(Date.now() / 1000)
  const token = forge({ alg: 'HS256', typ: 'JWT' }, { sub: 'someone', sid: 'some-session', typ: 'access', jti: 'some-id', iat: now, exp: now + 60 }, SECRET)
  const res = await app.inject({ url: '/', headers: bearer(token) })
  t.equal(res.statusCode, 404)
  t.ok(existsSync(file), 'opened on the first request that needed it')
})

t.test('explicit options open the database at registration: a broken one fails ready()', async (t) => {
  const dir = tempDir(t, 'fda-broken-')
  const file = join(dir, 'broken.sqlite')
  const foreign = new Database(file)
  foreign.exec('create table auth_users (unrelated text)') // a table in the way, with no migration record
  foreign.close()
  const app = Fastify()
  app.register(fastifyDrizzleAuth, { database: file, secret: SECRET })
  const err = await app.ready().then(() => undefined, (e: unknown) => e)
  t.match(`${String(err)} ${String((err as Error).cause)}`, /its migration cannot create `auth_users`: it already exists/, 'a table in the way is named, with the recipe to follow')
  await app.close().catch(() => {})
  rmSync(file)
  t.notOk(existsSync(file), 'the failed open left no handle behind (the file could be removed)')
})

t.test('an application @fastify/jwt with another decorator name: the plugin still decorates request.user', async (t) => {
  const app = Fastify()
  const { default: fastifyJwt } = await import('@fastify/jwt')
  await app.register(fastifyJwt, { secret: 'another-application-secret-of-32-bytes!!', decoratorName: 'jwtUser' })
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET })
  app.get('/who', async (request) => ({ authenticated: request.user.isAuthenticated }))
  t.teardown(() => app.close())
  t.same((await app.inject({ url: '/who' })).json(), { authenticated: false })
})
