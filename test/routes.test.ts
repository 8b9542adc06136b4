import t from 'tap'
import { PASSWORD, bearer, buildApp as buildAppOn, registerAndLogin } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'
import { testClock } from './fixtures/clock.ts'

// One suite, run once per dialect the machine has (PostgreSQL is required under CI).
for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    const buildApp = (options: Parameters<typeof buildAppOn>[0] = {}, fastifyOptions: Parameters<typeof buildAppOn>[1] = {}) =>
      buildAppOn(options, fastifyOptions, dialect)

    function decode (token: string): Record<string, unknown> {
      return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
    }

    t.test('POST /register: 201 {id, email (normalized), is_verified}', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const res = await app.inject({ method: 'POST', url: '/register', payload: { email: ' Alice@Example.COM ', password: PASSWORD } })
      t.equal(res.statusCode, 201)
      const body = res.json()
      t.same(Object.keys(body).sort(), ['email', 'id', 'is_verified'])
      t.equal(body.email, 'alice@example.com')
      t.equal(body.is_verified, false)
      t.type(body.id, 'string')
    })

    t.test('POST /register: 409 email_taken after normalization; 422 lists every validator failure', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      await app.inject({ method: 'POST', url: '/register', payload: { email: 'alice@example.com', password: PASSWORD } })
      const dup = await app.inject({ method: 'POST', url: '/register', payload: { email: 'ALICE@example.com', password: PASSWORD } })
      t.equal(dup.statusCode, 409)
      t.same(dup.json(), { detail: 'Email is already registered', code: 'email_taken' })
      const weak = await app.inject({ method: 'POST', url: '/register', payload: { email: 'bob@example.com', password: '1234' } })
      t.equal(weak.statusCode, 422)
      t.same(weak.json(), {
        detail: 'Password does not meet the requirements',
        code: 'invalid_password',
        errors: ['Password must be at least 8 characters long', 'Password must not be entirely numeric', 'Password is too common']
      })
      const short = await app.inject({ method: 'POST', url: '/register', payload: { email: 'bob@example.com', password: 'xQ7!' } })
      t.equal(short.statusCode, 422, 'too short is a 422 too')
      const bad = await app.inject({ method: 'POST', url: '/register', payload: { email: 'not-an-email', password: PASSWORD } })
      t.equal(bad.statusCode, 422)
      t.equal(bad.json().code, 'invalid_email')
    })

    t.test('schema errors are 400 {detail, code}: types are not coerced, bodies are closed, lengths bounded', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const bodies: Array<[string, unknown]> = [
        ['numeric password', { email: 'a@example.com', password: 12345678 }],
        ['boolean password', { email: 'a@example.com', password: true }],
        ['array password', { email: 'a@example.com', password: ['x'] }],
        ['missing password', { email: 'a@example.com' }],
        ['extra property', { email: 'a@example.com', password: PASSWORD, role: 'admin' }],
        ['email with CR/LF', { email: 'a@example.com\r\nBcc: x@example.com', password: PASSWORD }],
        ['email with NUL', { email: 'a@example.com\u0000', password: PASSWORD }],
        ['email over 254', { email: `${'a'.repeat(250)}@example.com`, password: PASSWORD }],
        ['password over 1024', { email: 'a@example.com', password: 'x'.repeat(1025) }]
      ]
      for (const [name, payload] of bodies) {
        for (const url of ['/register', '/login']) {
          const res = await app.inject({ method: 'POST', url, payload: payload as object })
          t.equal(res.statusCode, 400, `${url} ${name}`)
          t.equal(res.json().code, 'invalid_request', `${url} ${name}: code`)
          t.type(res.json().detail, 'string')
        }
      }
      const refresh = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: 'x'.repeat(513) } })
      t.equal(refresh.statusCode, 400, 'token over 512')
      const count = await app.authService.store.users.findByEmail('a@example.com')
      t.equal(count, undefined, 'no row written')
    })

    t.test('POST /login: 200 OAuth shape; bad credentials 401 exact body', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      await app.inject({ method: 'POST', url: '/register', payload: { email: 'alice@example.com', password: PASSWORD } })
      const res = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
      t.equal(res.statusCode, 200)
      const body = res.json()
      t.same(Object.keys(body).sort(), ['access_token', 'device_token', 'expires_in', 'refresh_token', 'token_type'])
      t.equal(body.token_type, 'bearer')
      t.equal(body.expires_in, 900)
      t.equal(res.headers['cache-control'], 'no-store')
      const bad = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: 'Wrong-Password-1' } })
      t.equal(bad.statusCode, 401)
      t.equal(bad.body, '{"detail":"Invalid credentials","code":"invalid_credentials"}')
    })

    t.test('GET /me: 200 with the profile, id equal to the token sub; anonymous gets the guard 401', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      const res = await app.inject({ url: '/me', headers: bearer(accessToken) })
      t.equal(res.statusCode, 200)
      const body = res.json()
      t.same(Object.keys(body).sort(), ['email', 'id', 'is_active', 'is_verified', 'last_login'])
      t.equal(body.id, decode(accessToken).sub)
      t.equal(body.email, 'alice@example.com')
      t.equal(body.is_active, true)
      t.equal(body.is_verified, false)
      t.match(body.last_login, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      const anonymous = await app.inject({ url: '/me' })
      t.equal(anonymous.statusCode, 401)
      t.equal(anonymous.body, '{"detail":"Authentication required"}')
    })

    t.test('an application hook refusing a bundled route with its own 4xx keeps its status, in the {detail, code} shape', async (t) => {
      const app = await buildApp()
      app.addHook('preHandler', async (request) => {
        if (request.url === '/register') throw Object.assign(new Error('Registration is closed'), { statusCode: 403 })
      })
      t.teardown(() => app.close())
      const res = await app.inject({ method: 'POST', url: '/register', payload: { email: 'a@example.com', password: PASSWORD } })
      t.equal(res.statusCode, 403)
      t.same(res.json(), { detail: 'Registration is closed', code: 'bad_request' })
    })

    t.test('GET /me: last_login is null when the user has none recorded', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      const user = await app.authService.authenticate(accessToken)
      await app.authService.store.users.update(user.id, { lastLogin: null }, new Date())
      const body = (await app.inject({ url: '/me', headers: bearer(accessToken) })).json()
      t.equal(body.last_login, null)
    })

    t.test('an unexpected error inside the routes is a bare 500 {detail, code}: no message, stack or path', async (t) => {
      const app = await buildApp()
      app.addHook('preHandler', async (request) => {
        if (request.url === '/login') throw new Error('secret internals at /work/app/src/db.ts:12')
      })
      t.teardown(() => app.close())
      const res = await app.inject({ method: 'POST', url: '/login', payload: { email: 'a@example.com', password: PASSWORD } })
      t.equal(res.statusCode, 500)
      t.equal(res.body, '{"detail":"Internal server error","code":"internal_error"}')
    })

    t.test('POST /logout: 200, tokens dead at once; idempotent; no bearer token is a 401', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const { accessToken, refreshToken } = await registerAndLogin(app)
      const out = await app.inject({ method: 'POST', url: '/logout', headers: bearer(accessToken) })
      t.equal(out.statusCode, 200)
      t.same(out.json(), { detail: 'Logged out' })
      t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 401)
      t.equal((await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: refreshToken } })).statusCode, 401)
      const again = await app.inject({ method: 'POST', url: '/logout', headers: bearer(accessToken) })
      t.equal(again.statusCode, 200, 'an already-revoked token still gets 200')
      t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer('whatever') })).statusCode, 200)
      const none = await app.inject({ method: 'POST', url: '/logout' })
      t.equal(none.statusCode, 401)
      t.equal(none.body, '{"detail":"Authentication required"}')
    })

    t.test('POST /refresh: 200 with the four fields; unknown, used, revoked or expired is 401', async (t) => {
      const app = await buildApp({ refreshReuseGraceSeconds: 0 })
      t.teardown(() => app.close())
      const { refreshToken } = await registerAndLogin(app)
      const res = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: refreshToken } })
      t.equal(res.statusCode, 200)
      t.same(Object.keys(res.json()).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'])
      t.equal(res.headers['cache-control'], 'no-store')
      const unknown = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: 'B'.repeat(43) } })
      t.equal(unknown.statusCode, 401)
      t.equal(unknown.json().code, 'invalid_token')
      const used = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: refreshToken } })
      t.equal(used.statusCode, 401, 'already used')
      const revoked = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: res.json().refresh_token } })
      t.equal(revoked.statusCode, 401, 'the reuse revoked the session, so the child is dead too')
      t.equal(revoked.json().code, 'token_revoked')

      const clock = testClock()
      const short = await buildApp({ refreshTokenTtl: 1, clock: clock.now })
      t.teardown(() => short.close())
      const s = await registerAndLogin(short)
      clock.advance(1100)
      const expired = await short.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: s.refreshToken } })
      t.equal(expired.statusCode, 401)
      t.equal(expired.json().code, 'token_expired')
    })

    t.test('routes: { prefix } mounts the routes under it, and nothing at the root', async (t) => {
      const app = await buildApp({ routes: { prefix: '/auth' } })
      t.teardown(() => app.close())
      const res = await app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'p@example.com', password: PASSWORD } })
      t.equal(res.statusCode, 201)
      t.equal((await app.inject({ method: 'POST', url: '/register', payload: {} })).statusCode, 404)
      const noRoutes = await buildApp({ routes: false })
      t.teardown(() => noRoutes.close())
      t.equal((await noRoutes.inject({ method: 'POST', url: '/login', payload: {} })).statusCode, 404)
    })

    t.test('the route error handler: non-JSON is 415, bad JSON 400, oversize 413, all {detail, code}', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const form = await app.inject({ method: 'POST', url: '/login', payload: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
      t.equal(form.statusCode, 415)
      t.equal(form.json().code, 'unsupported_media_type')
      const truncated = await app.inject({ method: 'POST', url: '/login', payload: '{"email":"a', headers: { 'content-type': 'application/json' } })
      t.equal(truncated.statusCode, 400)
      t.equal(truncated.json().code, 'invalid_json')
      const empty = await app.inject({ method: 'POST', url: '/login', payload: '', headers: { 'content-type': 'application/json' } })
      t.equal(empty.statusCode, 400)
      t.equal(empty.json().code, 'invalid_json')
      const huge = await app.inject({ method: 'POST', url: '/login', payload: { email: 'a@example.com', password: 'x'.repeat(1024 * 1024) } })
      t.equal(huge.statusCode, 413)
      t.equal(huge.json().code, 'payload_too_large')
      const proto = await app.inject({ method: 'POST', url: '/register', payload: '{"email":"a@example.com","password":"Correct-Horse-9","__proto__":{"isActive":false}}', headers: { 'content-type': 'application/json' } })
      t.equal(proto.statusCode, 400)
      const ctor = await app.inject({ method: 'POST', url: '/register', payload: '{"email":"a@example.com","password":"Correct-Horse-9","constructor":{"prototype":{"x":1}}}', headers: { 'content-type': 'application/json' } })
      t.equal(ctor.statusCode, 400)
    })
  })
}
