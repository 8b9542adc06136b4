/**
 * Sign-in through a real OpenID provider (oidc-provider in this process): the browser leaves with state,
 * PKCE and nonce, signs in on the provider's own pages, and comes back to a session made exactly as a password
 * login makes one: cookies, or a one-time code in the fragment for a bearer client.
 */
import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import { loginRequired } from '../src/index.ts'
import { PASSWORD, bearer } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'
import { APP, buildProviderApp, callback, signIn, start } from './fixtures/oauth.ts'

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url')

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: cookies: the callback sets the login cookies and returns the browser to redirectTo`, async (t) => {
    const p = await buildProviderApp(t, dialect, { tokenTransport: 'cookie', secureCookies: false, csrf: { doubleSubmit: true } })
    p.idp.accounts.set('alice-sub', { email: 'Alice@Example.com', email_verified: true })
    const logins: unknown[] = []
    p.app.authService.on('user_login', (event) => { logins.push(event) })

    const started = await start(p.app, `?redirectTo=${encodeURIComponent(`${APP}/welcome`)}`)
    const url = new URL(started.location)
    t.equal(url.origin, p.idp.issuer, 'the browser leaves for the provider')
    t.equal(url.searchParams.get('code_challenge_method'), 'S256')
    t.match(url.searchParams.get('state'), /^[A-Za-z0-9_-]{43}$/, 'a 256-bit state')
    t.ok(url.searchParams.get('nonce'), 'a nonce')
    t.equal(url.searchParams.get('redirect_uri'), 'https://api.example/oauth/corp/callback', 'the callback comes from oauth.callbackBaseUrl')

    const back = await p.idp.signIn(started.location, 'alice-sub')
    const res = await callback(p.app, back, started.cookie)
    t.equal(res.statusCode, 302)
    t.equal(res.headers.location, `${APP}/welcome`)
    const access = res.cookies.find((c) => c.name === 'fda_access')
    t.ok(access?.httpOnly, 'the access cookie, HttpOnly')
    t.ok(res.cookies.find((c) => c.name === 'fda_refresh')?.httpOnly, 'the refresh cookie, HttpOnly')
    t.notMatch(res.headers.location, /token|code=/, 'no token in the URL')
    t.ok(res.cookies.find((c) => c.name === 'fda_csrf'), 'and the double-submit cookie, as /login sets it')
    t.notOk(res.cookies.some((c) => c.name === 'fda_access_flow'), 'a sign-in neither needs nor touches a flow cookie')

    const me = await p.app.inject({ url: '/me', headers: { cookie: `fda_access=${access!.value}` } })
    t.equal(me.statusCode, 200)
    t.equal(me.json().email, 'alice@example.com', 'a new user, with the provider\'s address normalized')
    t.match(logins, [{ method: 'oauth', provider: 'corp', user: { email: 'alice@example.com' } }])
    const claims = JSON.parse(Buffer.from(access!.value.split('.')[1], 'base64url').toString())
    t.same(claims.amr, ['oauth'], 'the access token says how the session was made')

    const again = await signIn(p, 'alice-sub')
    t.equal(again.statusCode, 302, 'the second sign-in finds the linked user')
    const rows = await (await import('./fixtures/app.ts')).testDatabase(p.app).query('select count(*) as n from auth_users')
    t.equal(Number(rows[0].n), 1, 'and makes no second user')
  })

  t.test(`${dialect}: bearer: a one-time code in the fragment, exchanged with its verifier for the tokens /login answers`, async (t) => {
    const p = await buildProviderApp(t, dialect)
    p.app.get('/how', { preHandler: loginRequired }, async (request) => request.auth.amr)
    p.idp.accounts.set('bob-sub', { email: 'bob@example.com', email_verified: true })
    const verifier = randomBytes(32).toString('base64url')
    const started = await start(p.app, `?code_challenge=${s256(verifier)}&code_challenge_method=S256`)
    const back = await p.idp.signIn(started.location, 'bob-sub')
    const res = await callback(p.app, back)
    t.equal(res.statusCode, 302, 'no browser binding needed: the code is bound to the challenge')
    const location = new URL(res.headers.location as string)
    t.equal(location.origin + location.pathname, `${APP}/`)
    t.equal(location.search, '', 'nothing in the query')
    const code = new URLSearchParams(location.hash.slice(1)).get('code')!
    t.match(code, /^[A-Za-z0-9_-]{43}$/)

    const wrong = await p.app.inject({ method: 'POST', url: '/oauth/token', payload: { code, code_verifier: randomBytes(32).toString('base64url') } })
    t.equal(wrong.statusCode, 400)
    t.equal(wrong.json().code, 'invalid_code', 'another verifier does not fit')
    const missing = await p.app.inject({ method: 'POST', url: '/oauth/token', payload: { code } })
    t.equal(missing.json().code, 'invalid_code', 'nor does none')

    const exchanged = await p.app.inject({ method: 'POST', url: '/oauth/token', payload: { code, code_verifier: verifier } })
    t.equal(exchanged.statusCode, 200)
    const body = exchanged.json()
    t.same(Object.keys(body).sort(), ['access_token', 'device_token', 'expires_in', 'refresh_token', 'token_type'], 'the same JSON as /login')
    const me = await p.app.inject({ url: '/me', headers: bearer(body.access_token) })
    t.equal(me.json().email, 'bob@example.com')
    t.same((await p.app.inject({ url: '/how', headers: bearer(body.access_token) })).json(), ['oauth'], 'request.auth.amr says it too')
    const logins: unknown[] = []
    p.app.authService.on('user_login', (event) => { logins.push(event) })
    const password = await p.app.inject({ method: 'POST', url: '/register', payload: { email: 'pat@example.com', password: PASSWORD } })
    t.equal(password.statusCode, 201)
    const patLogin = await p.app.inject({ method: 'POST', url: '/login', payload: { email: 'pat@example.com', password: PASSWORD } })
    t.same((await p.app.inject({ url: '/how', headers: bearer(patLogin.json().access_token) })).json(), ['pwd'], 'and pwd for a password login')
    t.match(logins, [{ method: 'password', user: { email: 'pat@example.com' } }], 'whose user_login says password, with no provider')
    t.notOk('provider' in (logins[0] as object))
    const sessions = await p.app.inject({ url: '/sessions', headers: bearer(body.access_token) })
    t.equal(sessions.json()[0].method, 'oauth:corp', 'the session list says how it was made')

    const replay = await p.app.inject({ method: 'POST', url: '/oauth/token', payload: { code, code_verifier: verifier } })
    t.equal(replay.statusCode, 400, 'the code works once')
    t.equal(replay.json().code, 'invalid_code')

    const refreshed = await p.app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: body.refresh_token } })
    const claims = JSON.parse(Buffer.from(refreshed.json().access_token.split('.')[1], 'base64url').toString())
    t.same(claims.amr, ['oauth'], 'a refreshed token still says how the session was made')
  })
}

t.test('an access token signed before tokens carried amr is a password session\'s', async (t) => {
  const { buildApp, registerAndLogin, SECRET } = await import('./fixtures/app.ts')
  const { decodePart, forge } = await import('./fixtures/jwt.ts')
  const app = await buildApp()
  t.teardown(() => app.close())
  app.get('/how', { preHandler: loginRequired }, async (request) => request.auth.amr)
  app.get('/mutate', { preHandler: loginRequired }, async (request) => {
    try { (request.auth.amr as string[]).push('x') } catch { return 'frozen' }
    return 'changed'
  })
  const session = await registerAndLogin(app)
  const { amr, ...older } = decodePart(session.accessToken, 1)
  t.same(amr, ['pwd'])
  const legacy = forge(decodePart(session.accessToken, 0), older, SECRET)
  t.same((await app.inject({ url: '/how', headers: bearer(legacy) })).json(), ['pwd'])
  for (const amr of ['pwd', [1], {}, Array.from({ length: 9 }, () => 'x')]) {
    const odd = forge(decodePart(session.accessToken, 0), { ...older, amr }, SECRET)
    t.equal((await app.inject({ url: '/how', headers: bearer(odd) })).statusCode, 401, `amr ${JSON.stringify(amr)}: not a token of ours`)
  }
  t.equal((await app.inject({ url: '/mutate', headers: bearer(session.accessToken) })).body, 'frozen', 'one request cannot change what the next one sees')
})
