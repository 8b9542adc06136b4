import t from 'tap'
import { AuthenticationError, ConfigurationError, loginRequired, requireAuth, requires } from '../src/index.ts'
import { bearer, buildApp as buildAppOn, registerAndLogin } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'

// One suite, run once per dialect the machine has (PostgreSQL is required under CI).
for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    const buildApp = (options: Parameters<typeof buildAppOn>[0] = {}, fastifyOptions: Parameters<typeof buildAppOn>[1] = {}) =>
      buildAppOn(options, fastifyOptions, dialect)

    const AUTH_REQUIRED = '{"detail":"Authentication required"}'

    async function guardedApp () {
      const app = await buildApp({ scopes: ['authenticated', 'read'] })
      const handler = async () => ({ ran: true })
      app.get('/bare', { preHandler: loginRequired }, handler)
      app.get('/called', { preHandler: loginRequired() }, handler)
      app.get('/forbidden', { preHandler: loginRequired({ statusCode: 403 }) }, handler)
      app.get('/page', { preHandler: loginRequired({ redirectUrl: '/login' }) }, handler)
      app.get('/in-array', { preHandler: [loginRequired] }, handler)
      app.get('/require', async (request) => ({ email: requireAuth(request).email }))
      app.get('/read', { preHandler: requires('read') }, handler)
      app.get('/read-admin', { preHandler: requires('read', 'admin') }, handler)
      return app
    }

    t.test('loginRequired bare, called, in an array: 401 with the exact seed body and WWW-Authenticate: Bearer', async (t) => {
      const app = await guardedApp()
      t.teardown(() => app.close())
      let ran = 0
      app.addHook('onSend', async (request, reply, payload) => { if (payload === '{"ran":true}') ran++; return payload })
      for (const url of ['/bare', '/called', '/in-array']) {
        const res = await app.inject({ url })
        t.equal(res.statusCode, 401, url)
        t.equal(res.body, AUTH_REQUIRED, `${url}: exact body`)
        t.equal(res.headers['www-authenticate'], 'Bearer', `${url}: no token sent`)
        t.match(res.headers['content-type'], /^application\/json/)
      }
      t.equal(ran, 0, 'no handler ran')
    })

    t.test('a refused token gets WWW-Authenticate: Bearer error="invalid_token"', async (t) => {
      const app = await guardedApp()
      t.teardown(() => app.close())
      for (const authorization of ['Bearer nope', 'Basic Zm9vOmJhcg==']) {
        const res = await app.inject({ url: '/bare', headers: { authorization } })
        t.equal(res.statusCode, 401)
        t.equal(res.body, AUTH_REQUIRED)
        t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', authorization)
      }
    })

    t.test('loginRequired({ statusCode: 403 }) answers 403 with the same body', async (t) => {
      const app = await guardedApp()
      t.teardown(() => app.close())
      const res = await app.inject({ url: '/forbidden' })
      t.equal(res.statusCode, 403)
      t.equal(res.body, AUTH_REQUIRED)
    })

    t.test('loginRequired({ redirectUrl }) answers 302 to that URL', async (t) => {
      const app = await guardedApp()
      t.teardown(() => app.close())
      const res = await app.inject({ url: '/page' })
      t.equal(res.statusCode, 302)
      t.equal(res.headers.location, '/login?next=%2Fpage', 'the page asked for, to come back to')
      t.notSame(res.body, '{"ran":true}')
    })

    t.test('authenticated requests reach the handler through every form', async (t) => {
      const app = await guardedApp()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      for (const url of ['/bare', '/called', '/forbidden', '/page', '/in-array', '/read']) {
        const res = await app.inject({ url, headers: bearer(accessToken) })
        t.equal(res.statusCode, 200, url)
        t.same(res.json(), { ran: true }, url)
      }
    })

    t.test('requireAuth returns the user, or throws an AuthenticationError answered exactly as the guard\'s 401 (never a 500)', async (t) => {
      const app = await guardedApp()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      const ok = await app.inject({ url: '/require', headers: bearer(accessToken) })
      t.same(ok.json(), { email: 'alice@example.com' })
      const denied = await app.inject({ url: '/require' })
      t.equal(denied.statusCode, 401)
      t.equal(denied.body, AUTH_REQUIRED)
      t.equal(denied.headers['www-authenticate'], 'Bearer')
      const forged = await app.inject({ url: '/require', headers: bearer('not.a.token') })
      t.equal(forged.headers['www-authenticate'], 'Bearer error="invalid_token"')

      const error = new AuthenticationError()
      t.equal(error.statusCode, 401)
      t.equal(error.code, 'authentication_required')
      t.ok(error instanceof Error)
    })

    t.test('requires(...scopes): 401 when anonymous, 403 {"detail":"Insufficient scope"} without every scope', async (t) => {
      const app = await guardedApp()
      t.teardown(() => app.close())
      const anonymous = await app.inject({ url: '/read' })
      t.equal(anonymous.statusCode, 401)
      t.equal(anonymous.body, AUTH_REQUIRED)
      const { accessToken } = await registerAndLogin(app)
      const missing = await app.inject({ url: '/read-admin', headers: bearer(accessToken) })
      t.equal(missing.statusCode, 403)
      t.equal(missing.body, '{"detail":"Insufficient scope"}')
      t.equal(missing.headers['www-authenticate'], 'Bearer error="insufficient_scope"')
    })

    t.test('guard options are checked when the route is declared', async (t) => {
      t.throws(() => loginRequired({ statusCode: 200 }), ConfigurationError)
      t.throws(() => loginRequired({ statusCode: 4.5 }), ConfigurationError)
      t.throws(() => loginRequired({ redirectUrl: '' }), ConfigurationError)
      t.throws(() => loginRequired('x' as never), ConfigurationError)
      t.throws(() => requires(), ConfigurationError)
      t.throws(() => requires(''), ConfigurationError)
    })

    t.test('an application\'s own async hook denies with requireAuth and gets the guard\'s answer; guards compose in an array', async (t) => {
      const app = await buildApp({ scopes: ['authenticated', 'read'] })
      t.teardown(() => app.close())
      app.get('/own-hook', {
        preHandler: async (request) => { requireAuth(request) }
      }, async () => ({ ran: true }))
      app.get('/composed', { preHandler: [loginRequired({ statusCode: 403 }), requires('read')] }, async () => ({ ran: true }))
      const own = await app.inject({ url: '/own-hook' })
      t.equal(own.statusCode, 401)
      t.equal(own.body, AUTH_REQUIRED, 'the same body as the guard; the handler did not run')
      t.equal(own.headers['www-authenticate'], 'Bearer')
      const composed = await app.inject({ url: '/composed' })
      t.equal(composed.statusCode, 403)
      t.equal(composed.body, AUTH_REQUIRED)
      const { accessToken } = await registerAndLogin(app)
      for (const url of ['/own-hook', '/composed']) {
        const res = await app.inject({ url, headers: bearer(accessToken) })
        t.equal(res.statusCode, 200, url)
        t.same(res.json(), { ran: true })
      }
    })

    t.test('guards as onRequest hooks answer before the body is read, and never also run the handler', async (t) => {
      const app = await buildApp({ scopes: ['authenticated'] })
      t.teardown(() => app.close())
      let ran = 0
      app.post('/upload', { onRequest: [loginRequired, requires('authenticated')] }, async () => { ran++; return { ran: true } })
      const res = await app.inject({ method: 'POST', url: '/upload', payload: '{not json', headers: { 'content-type': 'application/json' } })
      t.equal(res.statusCode, 401)
      t.equal(res.body, AUTH_REQUIRED)
      t.equal(ran, 0)
      const { accessToken } = await registerAndLogin(app)
      const ok = await app.inject({ method: 'POST', url: '/upload', payload: { a: 1 }, headers: bearer(accessToken) })
      t.equal(ok.statusCode, 200)
      t.equal(ran, 1)
    })
  })
}

t.test('loginRequired({ redirectUrl }) echoes only a path of this site in `next`', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { default: fastifyDrizzleAuth, loginRequired } = await import('../src/index.ts')
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: 'guards-next-secret-of-at-least-32-bytes', bcryptRounds: 4 })
  app.get('/*', { preHandler: loginRequired({ redirectUrl: '/login?from=guard' }) }, async () => 'page')
  t.teardown(() => app.close())
  const cases: Array<[string, string]> = [
    ['/account/settings?tab=2', '/login?from=guard&next=%2Faccount%2Fsettings%3Ftab%3D2'],
    ['//evil.example/x', '/login?from=guard']
  ]
  for (const [url, location] of cases) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 302, url)
    t.equal(res.headers.location, location, `${url}: ${location}`)
  }
})
