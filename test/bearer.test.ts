import type { FastifyServerOptions } from 'fastify'
import t from 'tap'
import { AnonymousUser } from '../src/index.ts'
import { PASSWORD, bearer, buildApp as buildAppOn, registerAndLogin } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'
import { testClock } from './fixtures/clock.ts'

// One suite, run once per dialect the machine has (PostgreSQL is required under CI).
for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    const buildApp = (options: Parameters<typeof buildAppOn>[0] = {}, fastifyOptions: Parameters<typeof buildAppOn>[1] = {}) =>
      buildAppOn(options, fastifyOptions, dialect)

    async function appWithProbe (options = {}, fastifyOptions: FastifyServerOptions = {}) {
      const app = await buildApp(options, fastifyOptions)
      app.get('/probe', async (request) => ({
        authenticated: request.user.isAuthenticated,
        anonymous: request.user instanceof AnonymousUser,
        user: request.user,
        scopes: request.auth.scopes,
        status: request.auth.tokenStatus
      }))
      return app
    }

    t.test('a valid Bearer token sets request.user (without the password hash) and the default scope', async (t) => {
      const app = await appWithProbe()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      const res = await app.inject({ url: '/probe', headers: bearer(accessToken) })
      t.equal(res.statusCode, 200)
      const body = res.json()
      t.equal(body.authenticated, true)
      t.same(body.scopes, ['authenticated'])
      t.equal(body.status, 'valid')
      t.equal(body.user.email, 'alice@example.com')
      t.equal(body.user.isAnonymous, false)
      t.equal(body.user.displayName, 'alice@example.com')
      t.notOk('passwordHash' in body.user, 'no password hash on request.user')
      t.notMatch(res.body, /\$2[aby]\$/, 'no bcrypt hash anywhere in the serialized user')
    })

    t.test('the scheme is matched case-insensitively', async (t) => {
      const app = await appWithProbe()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
        const res = await app.inject({ url: '/probe', headers: { authorization: `${scheme} ${accessToken}` } })
        t.equal(res.json().authenticated, true, scheme)
      }
    })

    t.test('missing, foreign, malformed or bad credentials leave the request anonymous, and the hook never answers', async (t) => {
      const clock = testClock()
      const app = await appWithProbe({ accessTokenTtl: 1, clockSkewSeconds: 0, clock: clock.now })
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      const cases: Array<[string, Record<string, string>, string]> = [
        ['no header', {}, 'absent'],
        ['Basic scheme', { authorization: 'Basic YWxpY2U6c2VjcmV0' }, 'rejected'],
        ['Bearer alone', { authorization: 'Bearer' }, 'rejected'],
        ['Bearer and a space', { authorization: 'Bearer ' }, 'rejected'],
        ['garbage token', { authorization: 'Bearer not.a.jwt' }, 'rejected'],
        ['token of another key', { authorization: `Bearer ${accessToken.slice(0, -4)}AAAA` }, 'rejected']
      ]
      for (const [name, headers, status] of cases) {
        const res = await app.inject({ url: '/probe', headers })
        t.equal(res.statusCode, 200, `${name}: the handler ran`)
        t.same(res.json(), { authenticated: false, anonymous: true, user: { isAuthenticated: false, isAnonymous: true, displayName: '' }, scopes: [], status }, name)
      }
      clock.advance(2100)
      const expired = await app.inject({ url: '/probe', headers: bearer(accessToken) })
      t.same(expired.json().scopes, [], 'expired token: anonymous')
      t.equal(expired.json().status, 'rejected')
    })

    t.test('a revoked token or a deactivated user is anonymous on the next request', async (t) => {
      const app = await appWithProbe()
      t.teardown(() => app.close())
      const first = await registerAndLogin(app)
      await app.inject({ method: 'POST', url: '/logout', headers: bearer(first.accessToken) })
      t.equal((await app.inject({ url: '/probe', headers: bearer(first.accessToken) })).json().authenticated, false, 'revoked')

      const res = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
      const second = res.json().access_token as string
      t.equal((await app.inject({ url: '/probe', headers: bearer(second) })).json().authenticated, true)
      const user = await app.authService.authenticate(second)
      await app.authService.deactivate(user.id)
      t.equal((await app.inject({ url: '/probe', headers: bearer(second) })).json().authenticated, false, 'deactivated')
    })

    t.test('custom scopes: a fixed list, or a function of the user', async (t) => {
      const fixed = await appWithProbe({ scopes: ['admin', 'write'] })
      t.teardown(() => fixed.close())
      const a = await registerAndLogin(fixed)
      t.same((await fixed.inject({ url: '/probe', headers: bearer(a.accessToken) })).json().scopes, ['admin', 'write'])
      t.same((await fixed.inject({ url: '/probe' })).json().scopes, [], 'anonymous still gets none')

      const perUser = await appWithProbe({ scopes: (user: { email: string }) => user.email.startsWith('admin') ? ['authenticated', 'admin'] : ['authenticated'] })
      t.teardown(() => perUser.close())
      const admin = await registerAndLogin(perUser, 'admin@example.com')
      const plain = await registerAndLogin(perUser, 'bob@example.com')
      t.same((await perUser.inject({ url: '/probe', headers: bearer(admin.accessToken) })).json().scopes, ['authenticated', 'admin'])
      t.same((await perUser.inject({ url: '/probe', headers: bearer(plain.accessToken) })).json().scopes, ['authenticated'])
    })

    t.test('a scopes function that throws is a programming error: 500, logged as such, never authenticated nor a 503', async (t) => {
      const logged: Array<{ level: number, err?: { message: string } }> = []
      const app = await appWithProbe({ scopes: () => { throw new Error('boom in scopes') } }, {
        logger: { level: 'error', stream: { write: (line: string) => { logged.push(JSON.parse(line)) } } }
      })
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      const res = await app.inject({ url: '/probe', headers: bearer(accessToken) })
      t.equal(res.statusCode, 500)
      t.notMatch(res.body, /authenticated/, 'the handler did not run')
      t.ok(logged.some((line) => line.level === 50 && line.err?.message === 'boom in scopes'), 'logged as an error with its message')
    })

    t.test('routes without a token pay nothing: the hook assigns the shared anonymous user', async (t) => {
      const app = await appWithProbe()
      t.teardown(() => app.close())
      const seen: unknown[] = []
      app.get('/identity', async (request) => { seen.push(request.user); return 'ok' })
      await app.inject({ url: '/identity' })
      await app.inject({ url: '/identity' })
      t.equal(seen[0], seen[1], 'one AnonymousUser instance')
      t.ok(Object.isFrozen(seen[0]))
    })

    t.test('a route with config.authenticate false stays anonymous and never reads the token', async (t) => {
      const app = await buildApp()
      app.get('/public', { config: { authenticate: false } }, async (request) => ({ authenticated: request.user.isAuthenticated, status: request.auth.tokenStatus }))
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      const res = await app.inject({ url: '/public', headers: bearer(accessToken) })
      t.same(res.json(), { authenticated: false, status: 'absent' })
    })
  })
}
