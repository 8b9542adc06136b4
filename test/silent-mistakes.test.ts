import Fastify from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, { AuthService, loginRequired, requireAuth, requires } from '../src/index.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'

const OPTIONS = { database: ':memory:', secret: SECRET, bcryptRounds: 4 }

t.test('a guard on a route the plugin never sees (a sibling context) answers a configuration error, not a 401', async (t) => {
  const app = Fastify()
  await app.register(async (child) => { await child.register(fastifyDrizzleAuth, OPTIONS) })
  await app.register(async (sibling) => {
    sibling.get('/bare', { preHandler: loginRequired }, async () => 'no')
    sibling.get('/scoped', { preHandler: requires('admin') }, async () => 'no')
    sibling.get('/inline', async (request) => requireAuth(request).email)
    sibling.get('/redirect', { preHandler: loginRequired({ redirectUrl: '/login' }) }, async () => 'no')
  })
  t.teardown(() => app.close())
  for (const url of ['/bare', '/scoped', '/inline', '/redirect']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 500, url)
    t.equal(res.json().code, 'configuration_error', url)
    // The plugin's error path does not reach a context it never saw: there Fastify's own handler answers.
    const body = res.json()
    t.match(body.detail ?? body.message, /ran on a request the plugin never saw: register the plugin in this route's context or a parent/, url)
  }
})

t.test('a guard in a hook that runs before the plugin\'s says so too', async (t) => {
  const app = Fastify()
  app.addHook('onRequest', loginRequired)
  await app.register(fastifyDrizzleAuth, OPTIONS)
  app.get('/early', async () => 'no')
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/early' })
  t.equal(res.statusCode, 500)
  t.match(res.json().detail, /before any hook that uses a guard/)
})

t.test('the plugin registered twice where one sees the other names itself', async (t) => {
  const app = Fastify()
  await t.rejects(async () => {
    await app.register(fastifyDrizzleAuth, OPTIONS)
    await app.register(fastifyDrizzleAuth, OPTIONS)
    await app.ready()
  }, { name: 'ConfigurationError', message: /fastify-drizzle-auth is registered twice .*register it once/ })
  await app.close().catch(() => {})
})

t.test('admin calls on an unknown user id are user_not_found, not a silent no-op', async (t) => {
  const service = new AuthService(OPTIONS)
  t.teardown(() => service.close())
  await service.ready()
  const unknown = '00000000-0000-4000-8000-000000000000'
  for (const [name, call] of [
    ['deactivate', () => service.deactivate(unknown)],
    ['activate', () => service.activate(unknown)],
    ['setPassword', () => service.setPassword(unknown, PASSWORD)]
  ] as const) {
    await t.rejects(call(), { code: 'user_not_found' }, name)
  }
  const user = await service.register('known@example.com', PASSWORD)
  await service.deactivate(user.id)
  await service.activate(user.id)
  t.equal((await service.getUser(user.id))?.isActive, true, 'a known user is still deactivated and activated')
})

t.test('authenticate() given the whole Authorization value says to pass the token alone', async (t) => {
  const service = new AuthService(OPTIONS)
  t.teardown(() => service.close())
  await service.ready()
  await service.register('bearer@example.com', PASSWORD)
  const { accessToken } = await service.login('bearer@example.com', PASSWORD)
  t.equal((await service.authenticate(accessToken)).email, 'bearer@example.com')
  for (const value of [`Bearer ${accessToken}`, `bearer ${accessToken}`]) {
    await t.rejects(service.authenticate(value), { code: 'invalid_token', message: /without the 'Bearer ' scheme/ })
  }
})

t.test('opening an SQLite database without better-sqlite3 installed says what to install; other load errors pass through', async (t) => {
  const missing = Object.assign(new Error("Cannot find module 'better-sqlite3'"), { code: 'MODULE_NOT_FOUND' })
  const broken = new Error('the driver\'s binary is for another Node version')
  for (const [thrown, expected] of [
    [missing, { name: 'ConfigurationError', message: /needs the 'better-sqlite3' package: npm install better-sqlite3/ }],
    [broken, { message: /another Node version/ }]
  ] as const) {
    const { openSqlite } = await t.mockImport<typeof import('../src/db/sqlite/open.ts')>('../src/db/sqlite/open.ts', {
      '../src/lib/package-require.ts': { packageRequire: Object.assign(() => { throw thrown }, { resolve: () => '' }) }
    })
    t.throws(() => openSqlite(':memory:'), expected)
  }
})
