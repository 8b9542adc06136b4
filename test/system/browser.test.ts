/**
 * The example page in a real browser (Debian's Chromium through playwright-core). It
 * registers, logs in, survives a reload, outlives its access cookie through the refresh cookie, reaches the
 * server-rendered dashboard, logs out; the tokens never reach document.cookie or storage; a page of another
 * origin (a second local server) can neither make an authenticated POST nor read /me. A screenshot of the
 * logged-in page goes to the test's temporary directory. Without a browser the test is skipped with its
 * reason, except under CI=true, where that is a failure (.ci/run installs Chromium).
 */
import { join } from 'node:path'
import Fastify from 'fastify'
import t from 'tap'
import { chromiumMissing, launchChromium } from '../fixtures/chromium.ts'
import { buildServer } from '../../examples/server.ts'
import { plainRequest } from '../fixtures/http-client.ts'
import { existsSync } from 'node:fs'
import { tempDir } from '../fixtures/temp.ts'

const PASSWORD = 'Correct-Horse-9-Battery'
t.setTimeout(180_000)

const missing = chromiumMissing()
if (missing !== undefined) {
  if (process.env.CI === 'true') t.fail(`${missing}: .ci/run installs Debian's chromium`)
  else t.comment(`browser test skipped: ${missing}`)
} else {
  t.test('the example page in Chromium: cookies only, refresh, dashboard, logout, and no cross-origin access', async (t) => {
    const started = performance.now()
    const dir = tempDir(t, 'fda-browser-')
    const app = await buildServer({
      DATABASE_PATH: join(dir, 'auth.sqlite'), AUTH_SECRET: 'browser-example-secret-of-32-bytes!', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', ACCESS_TOKEN_TTL: '2'
    })
    const answered: Array<{ method: string, url: string, status: number }> = []
    app.addHook('onResponse', async (request, reply) => { answered.push({ method: request.method, url: request.url, status: reply.statusCode }) })
    const loginBodies: string[] = []
    app.addHook('onSend', async (request, _reply, payload) => {
      if (request.url === '/login' && typeof payload === 'string') loginBodies.push(payload)
      return payload
    })
    const victim = await app.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => app.close())

    // Another origin on the same host (same site, another port): what a sibling page or an attacker could run.
    const other = Fastify()
    other.get('/', async (_request, reply) => reply.type('text/html').send(`<!doctype html><script>
      (async () => {
        const out = {}
        try { await fetch('${victim}/logout', { method: 'POST', credentials: 'include', mode: 'no-cors' }); out.post = 'sent' } catch { out.post = 'failed' }
        try { const res = await fetch('${victim}/me', { credentials: 'include' }); out.read = await res.text() } catch { out.read = 'blocked' }
        document.title = JSON.stringify(out)
      })()
    </script>`))
    const otherOrigin = await other.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => other.close())

    const browser = await launchChromium(t)
    const context = await browser.newContext()
    const page = await context.newPage()
    const fdaCookies = async () => (await context.cookies()).filter((cookie) => cookie.name.includes('fda_'))

    await page.goto(`${victim}/`)
    await page.fill('#register input[name=email]', 'browser@example.com')
    await page.fill('#register input[name=password]', PASSWORD)
    await page.click('#register button')
    await page.waitForSelector('text=Registered: you can log in.')
    await page.fill('#login input[name=email]', 'browser@example.com')
    await page.fill('#login input[name=password]', PASSWORD)
    await page.click('#login button')
    await page.waitForSelector('#profile:not([hidden])')
    t.equal(await page.textContent('#email'), 'browser@example.com', 'logged in')
    const pageBody = JSON.parse(loginBodies[0])
    t.same([pageBody.access_token, pageBody.refresh_token], [undefined, undefined], "'both': the page's login response carries no token")
    const curl = await plainRequest(`${victim}/login`, 'POST', { email: 'browser@example.com', password: PASSWORD })
    t.equal(curl.status, 200)
    t.type(curl.body.access_token, 'string', 'a client with no Fetch Metadata (curl) gets the tokens in the body')
    t.type(curl.body.refresh_token, 'string')
    t.equal(curl.cookies.length, 2, 'and the cookies')

    const cookies = await fdaCookies()
    t.same(cookies.map((cookie) => [cookie.name, cookie.httpOnly, cookie.secure]).sort(),
      [['__Host-fda_access', true, true], ['__Secure-fda_refresh', true, true]], 'two HttpOnly, Secure cookies')
    const visible = await page.evaluate(() => ({ cookie: document.cookie, local: localStorage.length, session: sessionStorage.length }))
    t.same(visible, { cookie: '', local: 0, session: 0 }, 'nothing the page\'s script can read')

    await page.reload()
    await page.waitForSelector('#profile:not([hidden])')
    t.equal(await page.textContent('#email'), 'browser@example.com', 'still logged in after a reload')
    await page.screenshot({ path: join(dir, 'logged-in.png'), fullPage: true })
    t.ok(existsSync(join(dir, 'logged-in.png')), 'screenshot of the logged-in page saved')

    // The access cookie expires (2 s); the browser drops it, and the page renews it through /refresh.
    while ((await fdaCookies()).some((cookie) => cookie.name === '__Host-fda_access')) await page.waitForTimeout(200)
    await page.reload()
    await page.waitForSelector('#profile:not([hidden])')
    t.equal(await page.textContent('#email'), 'browser@example.com', 'past the access TTL: still logged in')
    t.ok(answered.some((r) => r.method === 'POST' && r.url === '/refresh' && r.status === 200), 'through the refresh cookie')
    t.ok((await fdaCookies()).some((cookie) => cookie.name === '__Host-fda_access'), 'with a new access cookie')

    await page.goto(`${victim}/dashboard`)
    t.match(await page.textContent('body'), /Signed in as browser@example\.com/, 'the server-rendered page behind the guard')

    const attacker = await context.newPage()
    await attacker.goto(`${otherOrigin}/`)
    await attacker.waitForFunction(() => document.title.startsWith('{'))
    const seen = JSON.parse(await attacker.title())
    t.equal(seen.read, 'blocked', 'another origin cannot read /me (no CORS)')
    t.ok(answered.some((r) => r.method === 'POST' && r.url === '/logout' && r.status === 403), 'its POST reached the server and was refused (403)')
    await page.goto(`${victim}/`)
    await page.waitForSelector('#profile:not([hidden])')
    t.equal(await page.textContent('#email'), 'browser@example.com', 'and the session is intact')

    // A second browser signs in: the first sees both sessions in its list and ends the other one.
    const second = await browser.newContext()
    t.teardown(() => second.close())
    const secondPage = await second.newPage()
    await secondPage.goto(`${victim}/`)
    await secondPage.fill('#login input[name=email]', 'browser@example.com')
    await secondPage.fill('#login input[name=password]', PASSWORD)
    await secondPage.click('#login button')
    await secondPage.waitForSelector('#profile:not([hidden])')
    await page.goto(`${victim}/`)
    // This browser, the second one, and the session the test's own login made earlier.
    await page.waitForFunction(() => document.querySelectorAll('#sessions li').length === 3)
    t.match(await page.textContent('#sessions'), /\(this one\)/, 'the session list marks this browser')
    await page.click('#end-others')
    await page.waitForSelector('text=Ended 2 other session(s).')
    t.equal(await page.locator('#sessions li').count(), 1, 'one left')
    await secondPage.reload()
    await secondPage.waitForSelector('#signed-out:not([hidden])')
    t.equal(await secondPage.isHidden('#profile'), true, 'the other browser is signed out on its next request')

    await page.click('#logout')
    await page.waitForSelector('#signed-out:not([hidden])')
    t.same(await fdaCookies(), [], 'logged out: the cookies are gone')

    await page.goto(`${victim}/dashboard`)
    t.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/?next=%2Fdashboard', 'the guard redirects with the page asked for')
    await page.fill('#login input[name=email]', 'browser@example.com')
    await page.fill('#login input[name=password]', PASSWORD)
    await page.click('#login button')
    await page.waitForURL(`${victim}/dashboard`)
    t.match(await page.textContent('body'), /Signed in as browser@example\.com/, 'and the login page sends the user back there')
    t.comment(`browser test: ${((performance.now() - started) / 1000).toFixed(1)} s`)
  })
}
