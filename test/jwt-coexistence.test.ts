/**
 * An application's own @fastify/jwt, registered before or after the plugin. Nothing crashes;
 * `request.user` is only ever what the plugin's hook set (request.jwtVerify() does not overwrite it); the
 * application's jwtVerify() never accepts one of the plugin's tokens, revoked or not (an @fastify/jwt that
 * would, because it has the same secret, stops ready() with a ConfigurationError).
 */
import fastifyJwt from '@fastify/jwt'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, { ConfigurationError } from '../src/index.ts'
import { PASSWORD, SECRET, bearer, login } from './fixtures/app.ts'

const APP_SECRET = 'the-application-own-jwt-secret-32-bytes!'
type Order = 'before' | 'after'

async function appWithOwnJwt (order: Order, jwtOptions: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  const own = (): void => { app.register(fastifyJwt, { secret: APP_SECRET, ...jwtOptions }) }
  if (order === 'before') own()
  app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4, routes: true })
  if (order === 'after') own()
  app.get('/whoami', async (request) => {
    const before = request.user
    let verified: unknown = null
    let error: string | null = null
    try {
      verified = await request.jwtVerify()
    } catch (err) {
      error = (err as { code?: string }).code ?? 'error'
    }
    return {
      sameUserObject: request.user === before,
      authenticated: request.user.isAuthenticated,
      email: request.user.isAuthenticated ? request.user.email : null,
      verified,
      error
    }
  })
  await app.ready()
  return app
}

for (const order of ['before', 'after'] as const) {
  t.test(`@fastify/jwt registered ${order} the plugin: both work, request.user stays the plugin's`, async (t) => {
    const app = await appWithOwnJwt(order)
    t.teardown(() => app.close())
    t.equal(typeof app.jwt.sign, 'function', "fastify.jwt is the application's")
    await app.inject({ method: 'POST', url: '/register', payload: { email: 'co@example.com', password: PASSWORD } })
    const { accessToken } = await login(app, 'co@example.com')

    const withPluginToken = await app.inject({ url: '/whoami', headers: bearer(accessToken) })
    t.equal(withPluginToken.statusCode, 200)
    t.same(withPluginToken.json(), {
      sameUserObject: true, authenticated: true, email: 'co@example.com', verified: null, error: 'FST_JWT_AUTHORIZATION_TOKEN_INVALID'
    }, "the application's jwtVerify() refuses the plugin's token; request.user is untouched")

    const appToken = app.jwt.sign({ sub: 'app-subject' })
    const withAppToken = await app.inject({ url: '/whoami', headers: bearer(appToken) })
    t.equal(withAppToken.statusCode, 200)
    t.match(withAppToken.json(), {
      sameUserObject: true, authenticated: false, email: null, verified: { sub: 'app-subject' }, error: null
    }, "its own token verifies and is returned, but request.user stays the plugin's (anonymous: not a plugin token)")

    const logout = await app.inject({ method: 'POST', url: '/logout', headers: bearer(accessToken) })
    t.equal(logout.statusCode, 200)
    const revoked = await app.inject({ url: '/whoami', headers: bearer(accessToken) })
    t.match(revoked.json(), { authenticated: false, verified: null, error: 'FST_JWT_AUTHORIZATION_TOKEN_INVALID' },
      'a logged-out token: anonymous for the plugin, refused by jwtVerify()')
  })

  t.test(`@fastify/jwt ${order} the plugin with the plugin's secret: ready() fails and says why`, async (t) => {
    const err = await appWithOwnJwt(order, { secret: SECRET }).then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof ConfigurationError, 'a ConfigurationError')
    t.match((err as Error).message, /accepts this plugin's access tokens.*secret of its own/)
  })
}

t.test('an @fastify/jwt with the plugin\'s secret in a child context is refused when its routes are declared', async (t) => {
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  t.teardown(() => app.close().catch(() => {}))
  app.register(async (child) => {
    await child.register(fastifyJwt, { secret: SECRET })
    child.get('/child', async () => 'unreachable')
  })
  const err = await app.ready().then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof ConfigurationError, 'a ConfigurationError')
  t.match((err as Error).message, /secret of its own/)
})

t.test('a namespaced @fastify/jwt with its own decorator name writes there, and request.user is a plain property', async (t) => {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: APP_SECRET, namespace: 'partner', decoratorName: 'partner' })
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  app.get('/partner', async (request) => {
    await (request as unknown as { partnerJwtVerify: () => Promise<unknown> }).partnerJwtVerify()
    return {
      partner: (request as unknown as { partner: unknown }).partner,
      authenticated: request.user.isAuthenticated,
      accessor: typeof Object.getOwnPropertyDescriptor(request, 'user')?.get
    }
  })
  t.teardown(() => app.close())
  const token = (app.jwt as unknown as { partner: { sign: (p: object) => string } }).partner.sign({ sub: 'partner-1' })
  const res = await app.inject({ url: '/partner', headers: bearer(token) })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { partner: { sub: 'partner-1' }, authenticated: false, accessor: 'undefined' })
})

t.test('a namespaced @fastify/jwt that keeps the default decorator name cannot overwrite request.user either', async (t) => {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: APP_SECRET, namespace: 'partner' })
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  app.get('/partner', async (request) => {
    const payload = await (request as unknown as { partnerJwtVerify: () => Promise<unknown> }).partnerJwtVerify()
    return { payload, authenticated: request.user.isAuthenticated }
  })
  t.teardown(() => app.close())
  const token = (app.jwt as unknown as { partner: { sign: (p: object) => string } }).partner.sign({ sub: 'partner-2' })
  const res = await app.inject({ url: '/partner', headers: bearer(token) })
  t.match(res.json(), { payload: { sub: 'partner-2' }, authenticated: false })
})

t.test('an @fastify/jwt whose key is an async function is judged too, once its answer comes', async (t) => {
  for (const [key, refused] of [[SECRET, true], [APP_SECRET, false]] as const) {
    const app = Fastify()
    await app.register(fastifyJwt, { secret: async () => key })
    await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
    const err = await app.ready().then(() => undefined, (e: unknown) => e)
    t.equal(err instanceof ConfigurationError, refused, refused ? 'the same secret, from a function: refused' : 'another secret: accepted')
    await app.close().catch(() => {})
  }
})

t.test('any `jwt` decoration with a verify() and no decorator name is taken to write request.user', async (t) => {
  const app = Fastify()
  // Another JWT plugin's shape: a verifier that refuses everything, and writes its result to request.user.
  app.decorate('jwt', { verify: () => { throw new Error('not ours') } } as never)
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  app.get('/overwrite', async (request) => {
    (request as unknown as { user: unknown }).user = { forged: true }
    return { authenticated: request.user.isAuthenticated, forged: 'forged' in request.user }
  })
  t.teardown(() => app.close())
  t.same((await app.inject({ url: '/overwrite' })).json(), { authenticated: false, forged: false }, 'the write is ignored')
})
