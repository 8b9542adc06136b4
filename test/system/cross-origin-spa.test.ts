/**
 * The README's cross-origin browser recipe, exactly: an API on one localhost port (the plugin with cookies,
 * @fastify/cors with credentials, the SPA's origin trusted) and a single-page app served from another port,
 * driven in Chromium: register, login, /me, refresh, logout, /me again. The SPA's script never sees a token.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import fastifyCors from '@fastify/cors'
import Fastify from 'fastify'
import { chromium } from 'playwright-core'
import t from 'tap'
import fastifyDrizzleAuth from '../../src/index.ts'
import { tempDir } from '../fixtures/temp.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
t.setTimeout(120_000)

// What the page runs: each step's status (and /me's email), then the cookies its script can see.
const SPA_SCRIPT = (api: string) => `
(async () => {
  const call = (path, method = 'GET', body) => fetch('${api}' + path, {
    method, credentials: 'include',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const credentials = { email: 'spa@example.com', password: 'Correct-Horse-9-Battery' }
  const out = {}
  out.register = (await call('/register', 'POST', credentials)).status
  const login = await call('/login', 'POST', credentials)
  out.login = login.status
  out.loginBody = Object.keys(await login.json()).sort()
  const me = await call('/me')
  out.me = [me.status, (await me.json()).email]
  out.refresh = (await call('/refresh', 'POST', {})).status
  out.meAfterRefresh = (await call('/me')).status
  out.logout = (await call('/logout', 'POST')).status
  out.meAfterLogout = (await call('/me')).status
  out.visibleCookies = document.cookie
  document.title = JSON.stringify(out)
})().catch((err) => { document.title = JSON.stringify({ error: String(err) }) })`

if (!existsSync(CHROMIUM)) {
  if (process.env.CI === 'true') t.fail(`no browser at ${CHROMIUM}: .ci/run installs Debian's chromium`)
  else t.comment(`cross-origin SPA test skipped: no browser at ${CHROMIUM}`)
} else {
  t.test('a SPA on another localhost port signs in, refreshes and signs out through the API\'s cookies', async (t) => {
    const dir = tempDir(t, 'fda-spa-')
    const spa = Fastify()
    let apiOrigin = ''
    spa.get('/', async (_request, reply) => reply.type('text/html').send(`<!doctype html><title>loading</title><script>${SPA_SCRIPT(apiOrigin)}</script>`))
    const spaAddress = await spa.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => spa.close())
    const spaOrigin = spaAddress.replace('127.0.0.1', 'localhost')

    // The README's API settings.
    const api = Fastify()
    await api.register(fastifyCors, { origin: [spaOrigin], credentials: true, methods: ['GET', 'POST'] })
    await api.register(fastifyDrizzleAuth, {
      database: join(dir, 'auth.sqlite'),
      secret: 'spa-recipe-secret-that-is-32-bytes!!',
      bcryptRounds: 4,
      routes: true,
      tokenTransport: 'cookie',
      csrf: { trustedOrigins: [spaOrigin] }
    })
    apiOrigin = (await api.listen({ host: '127.0.0.1', port: 0 })).replace('127.0.0.1', 'localhost')
    t.teardown(() => api.close())

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] })
    t.teardown(() => browser.close())
    const page = await (await browser.newContext()).newPage()
    await page.goto(`${spaOrigin}/`)
    await page.waitForFunction(() => document.title.startsWith('{'), undefined, { timeout: 60_000 })
    const seen = JSON.parse(await page.title())
    t.same(seen, {
      register: 201,
      login: 200,
      loginBody: seen.loginBody,
      me: [200, 'spa@example.com'],
      refresh: 200,
      meAfterRefresh: 200,
      logout: 200,
      meAfterLogout: 401,
      visibleCookies: ''
    }, 'every step of the recipe, and no cookie the SPA\'s script can read')
    t.same(seen.loginBody.filter((key: string) => key === 'access_token' || key === 'refresh_token'), [], 'the login answer carries no session token')
  })
}
