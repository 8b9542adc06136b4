/**
 * Tokens in HttpOnly cookies (`tokenTransport: 'cookie' | 'both'`), read by the hook with
 * the header's checks, CSRF rules for cookie-authenticated unsafe requests, login CSRF, double-submit, and
 * the bearer default unchanged.
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { FastifyDrizzleAuthOptions } from '../src/index.ts'
import { loginRequired } from '../src/index.ts'
import { PASSWORD, bearer, buildApp, testDatabase } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'

type Cookie = { name: string, value: string, path?: string, maxAge?: number, httpOnly?: boolean, secure?: boolean, sameSite?: string, expires?: Date }
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' }

async function cookieApp (options: Partial<FastifyDrizzleAuthOptions> = {}, dialect: 'sqlite' | 'postgresql' = 'sqlite'): Promise<FastifyInstance> {
  const app = await buildApp({ tokenTransport: 'cookie', ...options }, {}, dialect)
  app.post('/action', { preHandler: loginRequired }, async (request) => ({ email: request.user.isAuthenticated ? request.user.email : null }))
  app.post('/open', async (request) => ({ authenticated: request.user.isAuthenticated, auth: request.auth }))
  app.get('/whoami', async (request) => ({ email: request.user.isAuthenticated ? request.user.email : null, transport: request.auth.transport }))
  app.route({ method: ['PUT', 'DELETE'], url: '/item', preHandler: loginRequired, handler: async () => 'done' })
  return app
}

async function cookieLogin (app: FastifyInstance, email = 'alice@example.com', headers: Record<string, string> = {}) {
  await app.inject({ method: 'POST', url: '/register', payload: { email, password: PASSWORD } })
  const res = await app.inject({ method: 'POST', url: '/login', payload: { email, password: PASSWORD }, headers })
  const cookies = res.cookies as Cookie[]
  const get = (name: string) => cookies.find((cookie) => cookie.name === name)
  return { res, cookies, access: get('__Host-fda_access'), refresh: get('__Secure-fda_refresh'), csrf: get('__Host-fda_csrf') }
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: cookie transport: login sets two HttpOnly cookies, the body keeps no token, the hook reads the cookie`, async (t) => {
    const app = await cookieApp({}, dialect)
    t.teardown(() => app.close())
    const { res, access, refresh } = await cookieLogin(app)
    t.equal(res.statusCode, 200)
    t.same(Object.keys(res.json()).sort(), ['device_token', 'expires_in', 'token_type'], 'no access_token or refresh_token in the body')
    t.match(access, { path: '/', maxAge: 900, httpOnly: true, secure: true, sameSite: 'Lax' })
    t.match(refresh, { path: '/refresh', httpOnly: true, secure: true, sameSite: 'Strict' })
    t.ok(refresh!.maxAge! > 2591990 && refresh!.maxAge! <= 2592000, `the refresh cookie lives as long as the session (${refresh!.maxAge})`)
    t.equal(res.headers['cache-control'], 'no-store')

    const me = await app.inject({ url: '/me', cookies: { '__Host-fda_access': access!.value } })
    t.equal(me.statusCode, 200)
    t.equal(me.json().email, 'alice@example.com')
    t.same((await app.inject({ url: '/whoami', cookies: { '__Host-fda_access': access!.value } })).json(), { email: 'alice@example.com', transport: 'cookie' })
    t.equal((await app.inject({ url: '/me', headers: bearer(access!.value) })).statusCode, 401, "'cookie': a bearer header is not read")
  })

  t.test(`${dialect}: refresh from the cookie rotates both cookies; reuse and the grace window as with bearer; logout clears them`, async (t) => {
    const app = await cookieApp({ refreshReuseGraceSeconds: 10 }, dialect)
    t.teardown(() => app.close())
    const { refresh } = await cookieLogin(app)
    const first = await app.inject({ method: 'POST', url: '/refresh', headers: SAME_ORIGIN, cookies: { '__Secure-fda_refresh': refresh!.value } })
    t.equal(first.statusCode, 200, 'no body at all: the cookie is enough')
    const next = (first.cookies as Cookie[]).find((c) => c.name === '__Secure-fda_refresh')!
    const nextAccess = (first.cookies as Cookie[]).find((c) => c.name === '__Host-fda_access')!
    t.not(next.value, refresh!.value)
    const replay = await app.inject({ method: 'POST', url: '/refresh', headers: SAME_ORIGIN, cookies: { '__Secure-fda_refresh': refresh!.value } })
    t.equal(replay.statusCode, 409, 'the just-rotated cookie within the grace window')
    t.equal(replay.json().code, 'refresh_in_progress')

    const noOrigin = await app.inject({ method: 'POST', url: '/refresh', cookies: { '__Secure-fda_refresh': next.value } })
    t.equal(noOrigin.statusCode, 403, 'a cookie refresh with no origin signal')
    t.equal(noOrigin.json().code, 'csrf_rejected')

    const crossSite = await app.inject({ method: 'POST', url: '/logout', headers: { 'sec-fetch-site': 'cross-site' }, cookies: { '__Host-fda_access': nextAccess.value } })
    t.equal(crossSite.statusCode, 403, 'a cross-site logout is refused')
    t.equal((await app.inject({ url: '/me', cookies: { '__Host-fda_access': nextAccess.value } })).statusCode, 200, 'and did nothing')

    const out = await app.inject({ method: 'POST', url: '/logout', headers: SAME_ORIGIN, cookies: { '__Host-fda_access': nextAccess.value } })
    t.equal(out.statusCode, 200)
    const cleared = out.cookies as Cookie[]
    t.match(cleared.find((c) => c.name === '__Host-fda_access'), { value: '', path: '/', httpOnly: true, secure: true, sameSite: 'Lax' })
    t.match(cleared.find((c) => c.name === '__Secure-fda_refresh'), { value: '', path: '/refresh', httpOnly: true, secure: true, sameSite: 'Strict' })
    for (const cookie of cleared) t.ok(cookie.maxAge === 0 || (cookie.expires !== undefined && cookie.expires.getTime() <= Date.now()), `${cookie.name} expired`)
    t.equal((await app.inject({ url: '/me', cookies: { '__Host-fda_access': nextAccess.value } })).statusCode, 401, 'the session is over')
    const reuse = await app.inject({ method: 'POST', url: '/refresh', headers: SAME_ORIGIN, cookies: { '__Secure-fda_refresh': next.value } })
    t.equal(reuse.statusCode, 401)
  })
}

t.test('reuse of an old refresh cookie outside the grace window revokes the session, as with bearer', async (t) => {
  const app = await cookieApp({ refreshReuseGraceSeconds: 0 })
  t.teardown(() => app.close())
  const { refresh } = await cookieLogin(app)
  const first = await app.inject({ method: 'POST', url: '/refresh', headers: SAME_ORIGIN, cookies: { '__Secure-fda_refresh': refresh!.value } })
  const access = (first.cookies as Cookie[]).find((c) => c.name === '__Host-fda_access')!
  const reuse = await app.inject({ method: 'POST', url: '/refresh', headers: SAME_ORIGIN, cookies: { '__Secure-fda_refresh': refresh!.value } })
  t.equal(reuse.statusCode, 401)
  t.equal(reuse.json().code, 'token_revoked')
  t.equal((await app.inject({ url: '/me', cookies: { '__Host-fda_access': access.value } })).statusCode, 401, 'the whole session is revoked')
})

t.test('the cookie is read with the header\'s checks: one value, well formed; a tossed unprefixed cookie is ignored', async (t) => {
  const app = await cookieApp()
  t.teardown(() => app.close())
  const { access } = await cookieLogin(app)
  const tossed = await app.inject({ url: '/whoami', headers: { cookie: `fda_access=${access!.value}` } })
  t.same(tossed.json(), { email: null, transport: null }, 'a cookie without the __Host- prefix is not ours')
  const twice = await app.inject({ url: '/whoami', headers: { cookie: `__Host-fda_access=${access!.value}; __Host-fda_access=${access!.value}` } })
  t.same(twice.json(), { email: null, transport: 'cookie' }, 'sent twice (one tossed in by a sibling): no credential')
  for (const value of ['not a token!', 'a'.repeat(5000), '']) {
    const res = await app.inject({ url: '/me', headers: { cookie: `__Host-fda_access=${value}` } })
    t.equal(res.statusCode, 401, `malformed (${value.length} chars): refused`)
    t.match(res.headers['www-authenticate'], /invalid_token/)
  }
  const other = await app.inject({ url: '/whoami', headers: { cookie: `theme=dark; __Host-fda_access=${access!.value}; lang=en` } })
  t.equal(other.json().email, 'alice@example.com', 'among other cookies')
})

t.test('CSRF: cookie-authenticated unsafe requests need an allowed origin; safe ones and bearer ones do not', async (t) => {
  const app = await cookieApp({ tokenTransport: 'both', csrf: { trustedOrigins: ['https://app.example'] } })
  t.teardown(() => app.close())
  const { access, res } = await cookieLogin(app)
  const cookies = { '__Host-fda_access': access!.value }
  const cases: Array<[string, Record<string, string>, number]> = [
    ['same-origin', SAME_ORIGIN, 200],
    ['same-site (not allowed)', { 'sec-fetch-site': 'same-site' }, 403],
    ['cross-site', { 'sec-fetch-site': 'cross-site' }, 403],
    ['cross-site from a trusted origin', { 'sec-fetch-site': 'cross-site', origin: 'https://app.example' }, 200],
    ['a trusted Origin, no Sec-Fetch-Site', { origin: 'https://app.example' }, 200],
    ['a trusted Referer, no Origin', { referer: 'https://app.example/settings?x=1' }, 200],
    ['an untrusted Origin', { origin: 'https://evil.example' }, 403],
    ['Origin: null', { origin: 'null' }, 403],
    ['a Referer that is no URL', { referer: 'not a url' }, 403],
    ['no header at all', {}, 403],
    ['its own origin without trustProxy', { origin: 'http://localhost:80' }, 403]
  ]
  for (const [name, headers, status] of cases) {
    const res = await app.inject({ method: 'POST', url: '/action', headers, cookies })
    t.equal(res.statusCode, status, name)
    if (status === 403) t.same(res.json(), { detail: 'Cross-site request refused', code: 'csrf_rejected' })
  }
  t.equal((await app.inject({ method: 'GET', url: '/me', cookies })).statusCode, 200, 'a GET needs no origin')
  for (const method of ['DELETE', 'PUT'] as const) {
    t.equal((await app.inject({ method, url: '/item', cookies })).statusCode, 403, `${method} without an origin`)
    t.equal((await app.inject({ method, url: '/item', headers: SAME_ORIGIN, cookies })).statusCode, 200, `${method} same-origin`)
  }
  t.equal((await app.inject({ method: 'POST', url: '/action', headers: bearer(res.json().access_token) })).statusCode, 200, 'bearer is exempt')
  const open = await app.inject({ method: 'POST', url: '/open', headers: { 'sec-fetch-site': 'cross-site' }, cookies })
  t.match(open.json(), { authenticated: false, auth: { tokenStatus: 'csrf_rejected', transport: 'cookie' } }, 'an unguarded handler sees an anonymous request')
  const both = await app.inject({ url: '/whoami', headers: bearer(res.json().access_token), cookies: { '__Host-fda_access': 'x.y.z' } })
  t.same(both.json(), { email: 'alice@example.com', transport: 'bearer' }, "'both': the bearer header wins")
})

t.test('CSRF: same-site when allowed, and the request\'s own origin behind a trusted proxy', async (t) => {
  const app = await buildApp({ tokenTransport: 'cookie', csrf: { allowSameSite: true } }, { trustProxy: ['127.0.0.1'] })
  app.post('/action', { preHandler: loginRequired }, async () => 'ok')
  t.teardown(() => app.close())
  const { access } = await cookieLogin(app)
  const cookies = { '__Host-fda_access': access!.value }
  t.equal((await app.inject({ method: 'POST', url: '/action', headers: { 'sec-fetch-site': 'same-site' }, cookies })).statusCode, 200, 'same-site allowed')
  const own = { origin: 'https://shop.example', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' }
  t.equal((await app.inject({ method: 'POST', url: '/action', headers: own, cookies })).statusCode, 200, 'its own origin, as the proxy says')
  t.equal((await app.inject({ method: 'POST', url: '/action', headers: { ...own, origin: 'https://other.example' }, cookies })).statusCode, 403)
})

t.test('double-submit: the token in the body and a readable cookie; unsafe cookie requests must send it back', async (t) => {
  const app = await cookieApp({ csrf: { doubleSubmit: true } })
  t.teardown(() => app.close())
  const { res, csrf, access } = await cookieLogin(app)
  t.type(res.json().csrf_token, 'string')
  t.match(csrf, { value: res.json().csrf_token, secure: true, path: '/' })
  t.notOk(csrf!.httpOnly, 'readable by the page (not HttpOnly)')
  const cookies = { '__Host-fda_access': access!.value }
  t.equal((await app.inject({ method: 'POST', url: '/action', headers: SAME_ORIGIN, cookies })).statusCode, 403, 'without the header')
  t.equal((await app.inject({ method: 'POST', url: '/action', headers: { ...SAME_ORIGIN, 'x-csrf-token': 'A'.repeat(43) }, cookies })).statusCode, 403, 'a wrong one')
  t.equal((await app.inject({ method: 'POST', url: '/action', headers: { ...SAME_ORIGIN, 'x-csrf-token': 'short' }, cookies })).statusCode, 403, 'a short one')
  t.equal((await app.inject({ method: 'POST', url: '/action', headers: { ...SAME_ORIGIN, 'x-csrf-token': res.json().csrf_token }, cookies })).statusCode, 200, 'the right one')
  const other = await cookieLogin(app, 'bob@example.com')
  t.equal((await app.inject({ method: 'POST', url: '/action', headers: { ...SAME_ORIGIN, 'x-csrf-token': res.json().csrf_token }, cookies: { '__Host-fda_access': other.access!.value } })).statusCode, 403, "another session's token")
  const refreshed = await app.inject({ method: 'POST', url: '/refresh', headers: SAME_ORIGIN, cookies: { '__Secure-fda_refresh': other.refresh!.value } })
  t.equal(refreshed.json().csrf_token, other.res.json().csrf_token, 'refresh hands out the same session\'s token')
  const out = await app.inject({ method: 'POST', url: '/logout', headers: { ...SAME_ORIGIN, 'x-csrf-token': res.json().csrf_token }, cookies })
  t.ok((out.cookies as Cookie[]).some((c) => c.name === '__Host-fda_csrf' && c.value === ''), 'logout clears it too')
})

t.test('login CSRF: a cross-site login is refused before any work; a non-browser login passes', async (t) => {
  const app = await cookieApp()
  t.teardown(() => app.close())
  await app.inject({ method: 'POST', url: '/register', payload: { email: 'alice@example.com', password: PASSWORD } })
  const db = testDatabase(app)
  for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'https://evil.example' }]) {
    const res = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD }, headers })
    t.equal(res.statusCode, 403, JSON.stringify(headers))
    t.equal(res.json().code, 'csrf_rejected')
    t.equal(res.headers['set-cookie'], undefined, 'no cookie set')
  }
  t.same(await db.query('select count(*) as n from auth_sessions'), [{ n: 0 }], 'no session was created')
  for (const headers of [{}, SAME_ORIGIN, { 'sec-fetch-site': 'none' }]) {
    const res = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD }, headers })
    t.equal(res.statusCode, 200, `allowed: ${JSON.stringify(headers)}`)
  }
})

t.test('the default transport is bearer, byte for byte: no cookie, the same body', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.inject({ method: 'POST', url: '/register', payload: { email: 'alice@example.com', password: PASSWORD } })
  const res = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD }, headers: { 'sec-fetch-site': 'cross-site' } })
  t.equal(res.statusCode, 200, 'no login CSRF check without cookies')
  t.equal(res.headers['set-cookie'], undefined)
  t.match(res.body, /^\{"access_token":"[^"]+","refresh_token":"[^"]+","token_type":"bearer","expires_in":900,"device_token":"[^"]+"\}$/)
  t.equal((await app.inject({ url: '/me', cookies: { '__Host-fda_access': res.json().access_token } })).statusCode, 401, 'a cookie is not read')
  const logout = await app.inject({ method: 'POST', url: '/logout', headers: bearer(res.json().access_token) })
  t.equal(logout.headers['set-cookie'], undefined, 'logout clears nothing')
})

t.test('secureCookies: false drops Secure and the prefixes; names and SameSite are configurable', async (t) => {
  const app = await buildApp({ tokenTransport: 'cookie', secureCookies: false, routes: { prefix: '/auth' } })
  t.teardown(() => app.close())
  await app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'dev@example.com', password: PASSWORD } })
  const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'dev@example.com', password: PASSWORD } })
  const cookies = res.cookies as Cookie[]
  t.match(cookies.find((c) => c.name === 'fda_access'), { path: '/', httpOnly: true, secure: undefined })
  t.match(cookies.find((c) => c.name === 'fda_refresh'), { path: '/auth/refresh', secure: undefined })

  const named = await buildApp({ tokenTransport: 'cookie', cookies: { names: { access: 'sid', refresh: '__Secure-rt' }, sameSite: { access: 'strict', refresh: 'lax' } } })
  t.teardown(() => named.close())
  await named.inject({ method: 'POST', url: '/register', payload: { email: 'n@example.com', password: PASSWORD } })
  const login = await named.inject({ method: 'POST', url: '/login', payload: { email: 'n@example.com', password: PASSWORD } })
  t.match((login.cookies as Cookie[]).find((c) => c.name === 'sid'), { sameSite: 'Strict' })
  t.match((login.cookies as Cookie[]).find((c) => c.name === '__Secure-rt'), { sameSite: 'Lax' })
})

t.test('transport options are checked at registration and say what to set', async (t) => {
  const cases: Array<[string, Partial<FastifyDrizzleAuthOptions>, RegExp]> = [
    ['transport', { tokenTransport: 'header' as never }, /`tokenTransport` must be one of 'bearer', 'cookie', 'both'/],
    ['secureCookies', { secureCookies: 'no' as never }, /`secureCookies` must be true or false/],
    ['cookies', { cookies: 'x' as never }, /`cookies` must be an object/],
    ['a bad name', { cookies: { names: { access: 'a b' } } }, /`cookies.names.access` must be a cookie name/],
    ['a prefix without Secure', { secureCookies: false, cookies: { names: { csrf: '__Host-x' } } }, /browsers refuse without Secure/],
    ['refresh with __Host-', { cookies: { names: { refresh: '__Host-r' } } }, /cannot start with __Host-/],
    ['a bad SameSite', { cookies: { sameSite: { access: 'loose' as never } } }, /`cookies.sameSite.access` must be one of 'lax', 'strict', 'none'/],
    ['SameSite none without Secure', { secureCookies: false, cookies: { sameSite: { refresh: 'none' } } }, /'none' needs Secure cookies/],
    ['origins', { csrf: { trustedOrigins: 'https://app.example' as never } }, /`csrf.trustedOrigins` must be an array of origins/],
    ['an origin with a path', { csrf: { trustedOrigins: ['https://app.example/path'] } }, /`csrf.trustedOrigins` has "https:\/\/app.example\/path", which is not an origin: write scheme:\/\/host\[:port\] with no path/],
    ['origins type', { csrf: { trustedOrigins: [5 as never] } }, /`csrf.trustedOrigins`/],
    ['an origin that is no URL', { csrf: { trustedOrigins: ['app.example'] } }, /`csrf.trustedOrigins`/],
    ['allowSameSite', { csrf: { allowSameSite: 1 as never } }, /`csrf.allowSameSite` must be true or false/],
    ['doubleSubmit', { csrf: { doubleSubmit: 'yes' as never } }, /`csrf.doubleSubmit` must be true or false/]
  ]
  for (const [name, options, message] of cases) {
    const err = await buildApp({ tokenTransport: 'cookie', ...options }).then((app) => app.close(), (e: unknown) => e)
    t.match(String(err), message, name)
  }
})

t.test('/refresh with cookies but none sent (or a malformed one), or with the token in the body', async (t) => {
  const app = await cookieApp({ tokenTransport: 'both' })
  t.teardown(() => app.close())
  const { res } = await cookieLogin(app)
  const none = await app.inject({ method: 'POST', url: '/refresh', headers: SAME_ORIGIN })
  t.equal(none.statusCode, 400, 'no refresh token anywhere: a client error')
  t.equal(none.json().code, 'missing_refresh_token')
  const malformed = await app.inject({ method: 'POST', url: '/refresh', headers: { ...SAME_ORIGIN, cookie: '__Secure-fda_refresh=bad token' } })
  t.equal(malformed.statusCode, 401, 'a malformed refresh cookie')
  t.equal(malformed.json().code, 'invalid_token')
  const body = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: res.json().refresh_token } })
  t.equal(body.statusCode, 200, "'both': the body's token, no origin needed")
  t.type(body.json().access_token, 'string')
})

t.test('an application that registered @fastify/cookie itself (before the plugin) keeps it', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { default: fastifyCookie } = await import('@fastify/cookie')
  const { default: fastifyDrizzleAuth } = await import('../src/index.ts')
  const app = Fastify()
  await app.register(fastifyCookie, { secret: 'the-application-cookie-signing-secret' })
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: 'cookie-app-secret-that-is-32-bytes-long', bcryptRounds: 4, routes: true, tokenTransport: 'cookie' })
  app.get('/signed', async (_request, reply) => reply.setCookie('app', 'value', { signed: true }).send('ok'))
  t.teardown(() => app.close())
  t.match((await app.inject({ url: '/signed' })).headers['set-cookie'], /^app=value\./, 'its own options (a signing secret) still apply')
  const { access } = await cookieLogin(app)
  t.equal((await app.inject({ url: '/me', cookies: { '__Host-fda_access': access!.value } })).statusCode, 200)
})
