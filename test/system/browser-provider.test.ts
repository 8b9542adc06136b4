/**
 * "Sign in with a provider" in a real browser (Debian's Chromium through playwright-core): the example page's
 * button, the local OpenID provider `npm run dev:idp` starts (its own login and consent pages), and back on the
 * page signed in, the session in HttpOnly cookies, nothing of it in the URL or in the page's reach.
 */
import { join } from 'node:path'
import t from 'tap'
import { chromiumMissing, launchChromium } from '../fixtures/chromium.ts'
import { DEV_CLIENT, startDevIdp } from '../../examples/dev-idp.ts'
import { buildServer } from '../../examples/server.ts'
import { freePort } from '../fixtures/free-port.ts'
import { tempDir } from '../fixtures/temp.ts'

t.setTimeout(120_000)

const missing = chromiumMissing()
if (missing !== undefined) {
  if (process.env.CI === 'true') t.fail(`${missing}: .ci/run installs Debian's chromium`)
  else t.comment(`browser test skipped: ${missing}`)
} else {
  t.test('the example page signs a person in through a provider, in Chromium', async (t) => {
    const dir = tempDir(t, 'fda-provider-browser-')
    const appPort = await freePort()
    const appUrl = `http://127.0.0.1:${appPort}`
    const idp = await startDevIdp(appUrl, await freePort())
    t.teardown(idp.close)
    const app = await buildServer({
      DATABASE_PATH: join(dir, 'auth.sqlite'),
      AUTH_SECRET: 'browser-provider-secret-of-32-bytes!',
      LOG_LEVEL: 'silent',
      BCRYPT_ROUNDS: '4',
      APP_URL: appUrl,
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: DEV_CLIENT.clientId,
      OIDC_CLIENT_SECRET: DEV_CLIENT.clientSecret,
      OIDC_LABEL: 'Local IdP'
    })
    const visited: string[] = []
    app.addHook('onRequest', async (request) => { visited.push(request.url.split('?')[0]) })
    await app.listen({ host: '127.0.0.1', port: appPort })
    t.teardown(() => app.close())

    const browser = await launchChromium(t)
    const context = await browser.newContext()
    const page = await context.newPage()

    await page.goto(`${appUrl}/`)
    await page.click('text=Sign in with Local IdP')
    await page.waitForURL((url) => url.origin === idp.issuer)
    await page.fill('input[name=login]', 'ada')
    await page.fill('input[name=password]', 'anything')
    await page.click('button[type=submit]')
    await page.waitForSelector('text=Continue')
    await page.click('button[type=submit]')
    await page.waitForURL((url) => url.origin === appUrl)
    await page.waitForSelector('#profile:not([hidden])')
    t.equal(await page.textContent('#email'), 'ada@example.test', 'signed in as the provider\'s person')
    t.equal(await page.textContent('#verified'), 'yes', 'the provider said the address is verified')
    t.equal(new URL(page.url()).search + new URL(page.url()).hash, '', 'nothing in the URL')
    t.ok(visited.includes('/oauth/oidc/callback'), 'through the callback')

    const cookies = (await context.cookies()).filter((cookie) => cookie.name.includes('fda_'))
    const session = cookies.filter((cookie) => /fda_(access|refresh)$/.test(cookie.name))
    t.equal(session.length, 2, 'the access and refresh cookies')
    t.ok(session.every((cookie) => cookie.httpOnly), 'HttpOnly')
    const seen = await page.evaluate(() => document.cookie)
    t.notOk(session.some((cookie) => seen.includes(cookie.value)), 'the page\'s script cannot read them')
    const sessions = await page.evaluate(async () => await (await fetch('/sessions')).json())
    t.match(sessions, [{ method: 'oauth:oidc', current: true }], 'the session list says how this session was made')
  })
}
