/**
 * Refreshing with cookies on: a token posted in the body never sets cookies (no login CSRF through a
 * cross-site form), a refresh with no token anywhere is a client error, 'both' keeps tokens out of a page's
 * reach, the refresh cookie can live on '/' under a __Host- name, and every CSRF refusal is logged once.
 */
import { parse } from 'node:querystring'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, { type FastifyDrizzleAuthOptions, loginRequired } from '../src/index.ts'
import { PASSWORD, SECRET, buildApp } from './fixtures/app.ts'
import { availableDialects, createTestDatabase } from './fixtures/databases.ts'

type Cookie = { name: string, value: string, path?: string }
const CROSS_SITE = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', origin: 'https://evil.example' }
const PAGE = { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' }

interface Logged { level: number, msg: string, reason?: string }

async function app (options: Partial<FastifyDrizzleAuthOptions>, dialect: 'sqlite' | 'postgresql' = 'sqlite', lines: Logged[] = []): Promise<FastifyInstance> {
  const database = await createTestDatabase(dialect)
  const server = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  // Any form body parser, as @fastify/formbody gives (registered first, so the bundled routes inherit it): a
  // cross-site HTML form can then reach /refresh.
  server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parse(body as string))
  })
  await server.register(fastifyDrizzleAuth, {
    database: database.database, secret: SECRET, bcryptRounds: 4, routes: true, tokenTransport: 'both', ...options
  })
  server.addHook('onClose', async () => { await database.close() })
  server.post('/action', { preHandler: loginRequired }, async () => 'done')
  return server
}

async function signIn (server: FastifyInstance, headers: Record<string, string> = {}) {
  await server.inject({ method: 'POST', url: '/register', payload: { email: 'attacker@example.com', password: PASSWORD } })
  const res = await server.inject({ method: 'POST', url: '/login', payload: { email: 'attacker@example.com', password: PASSWORD }, headers })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return res
}

const csrfLines = (lines: Logged[]) => lines.filter((line) => /cross-site request refused/.test(line.msg))

for (const dialect of await availableDialects()) {
  for (const tokenTransport of ['both', 'cookie'] as const) {
    t.test(`${dialect} '${tokenTransport}': a cross-site form posting the attacker's refresh token signs nobody in`, async (t) => {
      const lines: Logged[] = []
      const server = await app({ tokenTransport }, dialect, lines)
      t.teardown(() => server.close())
      const attacker = await signIn(server) // a client with no Fetch Metadata (curl): tokens in the body
      const refreshToken = tokenTransport === 'both'
        ? attacker.json().refresh_token as string
        : (attacker.cookies as Cookie[]).find((c) => c.name === '__Secure-fda_refresh')!.value
      const forged = await server.inject({
        method: 'POST',
        url: '/refresh',
        headers: { ...CROSS_SITE, 'content-type': 'application/x-www-form-urlencoded' },
        payload: `refresh_token=${refreshToken}`
      })
      t.equal(forged.statusCode, 403, 'refused like a cross-site /login')
      t.equal(forged.json().code, 'csrf_rejected')
      t.same(forged.cookies, [], 'no cookie set')
      t.match(csrfLines(lines), [{ level: 30, reason: 'origin "https://evil.example" is not in csrf.trustedOrigins' }], 'logged once, at info, with the reason')
      t.equal(csrfLines(lines).length, 1)
      t.notMatch(JSON.stringify(lines), refreshToken, 'the token is in no log line')

      // A body refresh that may proceed (no browser headers) answers in the body and never sets cookies.
      const body = await server.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: refreshToken } })
      t.equal(body.statusCode, 200)
      t.type(body.json().access_token, 'string', 'the tokens in the body')
      t.type(body.json().refresh_token, 'string')
      t.same(body.cookies, [], 'and no cookie')
    })
  }

  t.test(`${dialect}: a refresh with no token anywhere is 400 missing_refresh_token, whatever the origin`, async (t) => {
    const server = await app({}, dialect)
    t.teardown(() => server.close())
    for (const headers of [{}, CROSS_SITE, PAGE]) {
      for (const payload of [undefined, {}]) {
        const res = await server.inject({ method: 'POST', url: '/refresh', headers, ...(payload === undefined ? {} : { payload }) })
        t.equal(res.statusCode, 400)
        t.same(res.json(), {
          code: 'missing_refresh_token',
          detail: 'No refresh token: send it as refresh_token in the JSON body, or let the browser send the refresh cookie'
        })
      }
    }
    const cookieCrossSite = await server.inject({ method: 'POST', url: '/refresh', headers: { ...CROSS_SITE, cookie: '__Secure-fda_refresh=abc' } })
    t.equal(cookieCrossSite.json().code, 'csrf_rejected', 'the CSRF check applies when the refresh cookie would be used')
  })
}

t.test("'both': a page's login and refresh get the cookies and no token; curl gets both", async (t) => {
  const server = await app({})
  t.teardown(() => server.close())
  const curl = await signIn(server)
  t.type(curl.json().access_token, 'string', 'curl: the tokens in the body')
  t.type(curl.json().refresh_token, 'string')
  t.equal((curl.cookies as Cookie[]).length, 2, 'and the cookies')
  for (const header of ['sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest', 'sec-fetch-user']) {
    const page = await server.inject({ method: 'POST', url: '/login', payload: { email: 'attacker@example.com', password: PASSWORD }, headers: { [header]: header === 'sec-fetch-site' ? 'same-origin' : 'cors' } })
    t.equal(page.statusCode, 200)
    t.same(Object.keys(page.json()).sort(), ['device_token', 'expires_in', 'token_type'], `${header}: no access_token or refresh_token in the body`)
    t.equal((page.cookies as Cookie[]).length, 2, `${header}: the cookies`)
  }
  const page = await server.inject({ method: 'POST', url: '/login', payload: { email: 'attacker@example.com', password: PASSWORD }, headers: PAGE })
  const refresh = (page.cookies as Cookie[]).find((c) => c.name === '__Secure-fda_refresh')!
  const refreshed = await server.inject({ method: 'POST', url: '/refresh', headers: PAGE, cookies: { [refresh.name]: refresh.value } })
  t.equal(refreshed.statusCode, 200)
  t.same(Object.keys(refreshed.json()).sort(), ['expires_in', 'token_type'], "the page's cookie refresh: no token in the body")
  t.equal((refreshed.cookies as Cookie[]).length, 2)
})

t.test("cookies.refreshPath '/': the refresh cookie under __Host- on every path, refresh and logout work", async (t) => {
  const server = await app({ cookies: { refreshPath: '/' } })
  t.teardown(() => server.close())
  const res = await signIn(server, PAGE)
  const refresh = (res.cookies as Cookie[]).find((c) => c.name === '__Host-fda_refresh')
  t.match(refresh, { path: '/' }, 'a __Host- refresh cookie on /')
  const refreshed = await server.inject({ method: 'POST', url: '/refresh', headers: PAGE, cookies: { '__Host-fda_refresh': refresh!.value } })
  t.equal(refreshed.statusCode, 200)
  const access = (refreshed.cookies as Cookie[]).find((c) => c.name === '__Host-fda_access')!
  const logout = await server.inject({ method: 'POST', url: '/logout', headers: PAGE, cookies: { '__Host-fda_access': access.value } })
  t.match((logout.cookies as Array<Cookie & { maxAge?: number }>).find((c) => c.name === '__Host-fda_refresh'), { path: '/', maxAge: 0 }, 'cleared on the path it was set on')
  const bad = await buildApp({ tokenTransport: 'cookie', cookies: { refreshPath: '/api' as never } }).then((a) => a.close(), (e: unknown) => e)
  t.match(String(bad), /`cookies.refreshPath` must be '\/'/)
  const named = await buildApp({ tokenTransport: 'cookie', cookies: { names: { refresh: '__Host-r' } } }).then((a) => a.close(), (e: unknown) => e)
  t.match(String(named), /set `cookies.refreshPath: '\/'` for a __Host- refresh cookie/)
})

t.test('CSRF refusals of cookie-authenticated requests are logged once with the reason; a trusted origin may end in a slash', async (t) => {
  const lines: Logged[] = []
  const server = await app({ tokenTransport: 'cookie', csrf: { trustedOrigins: ['http://localhost:5173/'], doubleSubmit: true } }, 'sqlite', lines)
  t.teardown(() => server.close())
  const res = await signIn(server, PAGE)
  const access = (res.cookies as Cookie[]).find((c) => c.name === '__Host-fda_access')!
  const csrf = (res.cookies as Cookie[]).find((c) => c.name === '__Host-fda_csrf')!
  const cookies = { '__Host-fda_access': access.value }
  const cases: Array<[Record<string, string>, string]> = [
    [{}, 'no Sec-Fetch-Site, Origin or Referer header'],
    [{ 'sec-fetch-site': 'cross-site' }, 'Sec-Fetch-Site is "cross-site" and no Origin or Referer header names a trusted origin'],
    [{ 'sec-fetch-site': 'cross-site', origin: 'http://localhost:5174' }, 'origin "http://localhost:5174" is not in csrf.trustedOrigins'],
    [{ 'sec-fetch-site': 'same-origin' }, 'no X-CSRF-Token header'],
    [{ 'sec-fetch-site': 'same-origin', 'x-csrf-token': 'x'.repeat(43) }, 'X-CSRF-Token does not match the session']
  ]
  for (const [headers, reason] of cases) {
    lines.length = 0
    const refused = await server.inject({ method: 'POST', url: '/action', headers, cookies })
    t.equal(refused.statusCode, 403, reason)
    t.same(refused.json(), { detail: 'Cross-site request refused', code: 'csrf_rejected' }, 'the body as before')
    t.same(csrfLines(lines).map((line) => [line.level, line.reason]), [[30, reason]], `logged once: ${reason}`)
    t.notMatch(JSON.stringify(lines), access.value, 'no cookie value in the log')
  }
  const trusted = await server.inject({
    method: 'POST', url: '/action', cookies, headers: { 'sec-fetch-site': 'cross-site', origin: 'http://localhost:5173', 'x-csrf-token': csrf.value }
  })
  t.equal(trusted.statusCode, 200, "'http://localhost:5173/' trusts http://localhost:5173")
})
