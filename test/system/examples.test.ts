import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../fixtures/temp.ts'
import { resetConfig } from '../../src/service/config.ts'
import { buildApp } from '../../examples/complete.ts'
import { buildServer } from '../../examples/server.ts'
import { startServer } from '../fixtures/server-process.ts'
import { freePort } from '../fixtures/free-port.ts'
import { providerBrowser } from '../fixtures/provider-browser.ts'

const CREDENTIALS = { email: 'alice@example.com', password: 'SecurePass123!' }

t.test('examples/complete.ts: the seed page, ported (register, login, me, logout, me again)', async (t) => {
  t.teardown(resetConfig)
  const dir = tempDir(t, 'fda-complete-')
  const app = await buildApp(join(dir, 'db.sqlite3'), 'complete-example-secret-32-bytes-long')
  t.teardown(() => app.close())
  const incomplete = await app.inject({ method: 'POST', url: '/register', payload: { email: CREDENTIALS.email } })
  t.equal(incomplete.statusCode, 400, 'a body without a password is refused by its schema, not a 500')
  t.match(incomplete.json().message, /password/)
  const registered = await app.inject({ method: 'POST', url: '/register', payload: CREDENTIALS })
  t.equal(registered.statusCode, 201)
  t.same(registered.json(), { email: 'alice@example.com' })
  const bad = await app.inject({ method: 'POST', url: '/login', payload: { ...CREDENTIALS, password: 'nope' } })
  t.equal(bad.statusCode, 401)
  t.same(bad.json(), { detail: 'Invalid credentials' })
  const login = await app.inject({ method: 'POST', url: '/login', payload: CREDENTIALS })
  t.equal(login.statusCode, 200)
  const token = login.json().access_token
  t.type(login.json().refresh_token, 'string')
  const me = await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })
  t.same(me.json(), { email: 'alice@example.com', is_verified: false })
  t.equal((await app.inject({ method: 'POST', url: '/logout' })).statusCode, 401, 'logout needs a user (requireAuth)')
  const out = await app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${token}` } })
  t.same(out.json(), { detail: 'Logged out' })
  const after = await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })
  t.equal(after.statusCode, 401)
  t.equal(after.body, '{"detail":"Authentication required"}')
})

t.test('examples/server.ts: the curl session of the README against the bundled routes', async (t) => {
  const dir = tempDir(t, 'fda-server-')
  const app = await buildServer({ DATABASE_PATH: join(dir, 'auth.sqlite'), AUTH_SECRET: 'server-example-secret-of-32-bytes!', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4' })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/register', payload: CREDENTIALS })).statusCode, 201)
  const login = (await app.inject({ method: 'POST', url: '/login', payload: CREDENTIALS })).json()
  const auth = { authorization: `Bearer ${login.access_token}` }
  t.equal((await app.inject({ url: '/me', headers: auth })).statusCode, 200)
  const refreshed = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: login.refresh_token } })
  t.equal(refreshed.statusCode, 200)
  const fresh = { authorization: `Bearer ${refreshed.json().access_token}` }
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: fresh })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: fresh })).statusCode, 401)
  t.same((await app.inject({ url: '/health' })).json(), { status: 'ok' })
})

t.test('examples/server.ts without SMTP_URL: the README reset session, reading the link from the .eml file', async (t) => {
  const dir = tempDir(t, 'fda-server-mail-')
  const mailDir = join(dir, 'mail')
  const app = await buildServer({
    DATABASE_PATH: join(dir, 'auth.sqlite'), MAIL_DIR: mailDir, APP_URL: 'https://app.example/', AUTH_SECRET: 'server-example-secret-of-32-bytes!', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4'
  })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/register', payload: CREDENTIALS })).statusCode, 201)
  const forgot = await app.inject({ method: 'POST', url: '/password/forgot', payload: { email: CREDENTIALS.email } })
  t.same(forgot.json(), { detail: 'If this address belongs to an account, a reset link is on its way' })
  // The pass in flight ends, then whatever it had not claimed goes out: the file is there either way.
  await app.authService.stopMailDelivery()
  await app.authService.deliverMail()
  const files = readdirSync(mailDir).sort()
  t.equal(files.length, 2, 'the registration\'s verification link, then the reset link')
  t.match(files[0], /-verify_email-[0-9a-f]{8}\.eml$/)
  t.match(files[1], /-reset_password-[0-9a-f]{8}\.eml$/, 'the newest file is the reset link')
  // What the README's perl line does: join the quoted-printable soft line breaks, decode '='.
  const eml = readFileSync(join(mailDir, files[1]), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=')
  const link = /http[^ "<]*token=[A-Za-z0-9_-]*/.exec(eml)![0]
  t.match(link, /^https:\/\/app\.example\/reset#token=[\w-]{43}$/)
  // What a browser (or a mail scanner) requests for the link: never the fragment, so never the token.
  const requested = new URL(link).pathname + new URL(link).search
  const token = new URLSearchParams(new URL(link).hash.slice(1)).get('token')!
  t.notMatch(requested, token, 'the token is not in the request line, so in no access log')
  const page = await app.inject({ url: requested })
  t.equal(page.statusCode, 200)
  t.match(page.body, '<script src="/account.js"></script>', 'the link opens a page; opening it uses nothing up')
  t.equal((await app.inject({ url: '/account.js' })).statusCode, 200)
  const reset = await app.inject({ method: 'POST', url: '/password/reset', payload: { token, new_password: 'N3w-Passphrase-42' } })
  t.same(reset.json(), { detail: 'Password changed: log in with the new password' })
  const again = await app.inject({ method: 'POST', url: '/password/reset', payload: { token, new_password: 'N3w-Passphrase-42' } })
  t.same(again.json(), { detail: 'This link is invalid or has expired: request a new one', code: 'invalid_token' })
  t.equal((await app.inject({ method: 'POST', url: '/login', payload: { email: CREDENTIALS.email, password: 'N3w-Passphrase-42' } })).statusCode, 200)
})

t.test('examples/server.ts with SMTP_URL sends through that server', async (t) => {
  const { mailerFrom } = await import('../../examples/server.ts')
  t.match(mailerFrom({ SMTP_URL: 'smtp://u:p@127.0.0.1:2525', MAIL_FROM: 'Example <x@app.example>' }), { from: 'Example <x@app.example>' })
  t.match(mailerFrom({}), { directory: './data/mail' })
})

t.test('npm start: two instances start at once on their own ports and files, with no build step', async (t) => {
  const dir = tempDir(t, 'fda-start-')
  const env = (name: string) => ({ PORT: '0', DATABASE_PATH: join(dir, name, 'auth.sqlite'), AUTH_SECRET: '', LOG_LEVEL: 'info' })
  const [a, b] = await Promise.all([startServer(env('a')), startServer(env('b'))])
  t.teardown(async () => { await a.stop(); await b.stop() })
  t.not(a.url, b.url, 'two ports')
  t.match(a.output(), /AUTH_SECRET is not set/, 'a loud warning when AUTH_SECRET is unset')
  for (const server of [a, b]) {
    const register = await fetch(`${server.url}/register`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CREDENTIALS)
    })
    t.equal(register.status, 201, `instance at ${server.url}`)
  }
})

t.test('examples/server.ts serves its OpenAPI document at /openapi.json and the UI at /docs', async (t) => {
  const dir = tempDir(t, 'fda-openapi-')
  const app = await buildServer({ DATABASE_PATH: join(dir, 'auth.sqlite'), AUTH_SECRET: 'openapi-example-secret-32-bytes-long!', LOG_LEVEL: 'silent' })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  const { default: SwaggerParser } = await import('@apidevtools/swagger-parser')
  await t.resolves(SwaggerParser.validate(structuredClone(doc)), 'a valid OpenAPI 3 document')
  t.same(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
  t.equal(doc.paths['/login'].post.operationId, 'authLogin')
  t.same(doc.paths['/hello'].get.security, [{ bearerAuth: [] }, { cookieAuth: [] }], "the example's own guarded route (bearer or cookie: tokenTransport 'both')")
  t.same(doc.components.securitySchemes.cookieAuth, { type: 'apiKey', in: 'cookie', name: '__Host-fda_access' })
  t.equal(doc.paths['/health'], undefined, 'hidden routes stay hidden')
  const ui = await app.inject({ url: '/docs/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  t.equal((await app.inject({ url: '/hello' })).statusCode, 401, 'the guarded example route')
})

t.test('the README\'s two commands: npm run dev:idp, then npm start with what it prints, sign a person in', async (t) => {
  const dir = tempDir(t, 'fda-dev-idp-')
  const [appPort, idpPort] = [await freePort(), await freePort()]
  const appUrl = `http://127.0.0.1:${appPort}`
  const idp = spawn('npm', ['run', '--silent', 'dev:idp'], { env: { ...process.env, IDP_PORT: String(idpPort), APP_URL: appUrl }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const idpExited = new Promise<void>((resolve) => idp.once('exit', () => resolve()))
  t.teardown(async () => { try { process.kill(-idp.pid!, 'SIGTERM') } catch { return } await idpExited })
  let printed = ''
  const command = await new Promise<string>((resolve, reject) => {
    idp.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString()
      const line = /^\s*(OIDC_ISSUER=\S+ OIDC_CLIENT_ID=\S+ OIDC_CLIENT_SECRET=\S+) npm start$/m.exec(printed)
      if (line !== null) resolve(line[1])
    })
    idp.once('exit', () => reject(new Error(`dev:idp ended: ${printed}`)))
  })
  const env = Object.fromEntries(command.split(' ').map((pair) => pair.split('=') as [string, string]))
  t.equal(env.OIDC_ISSUER, `http://127.0.0.1:${idpPort}`)
  const server = await startServer({ ...env, PORT: String(appPort), APP_URL: appUrl, DATABASE_PATH: join(dir, 'auth.sqlite'), AUTH_SECRET: 'dev-idp-readme-secret-of-32-bytes!!', LOG_LEVEL: 'info' })
  t.teardown(server.stop)

  const providers = await (await fetch(`${server.url}/oauth/providers`)).json()
  t.same(providers, [{ name: 'oidc', label: 'OpenID Connect' }], 'the page has its button')
  const start = await fetch(`${server.url}/oauth/oidc?redirectTo=/`, { redirect: 'manual' })
  t.equal(start.status, 302)
  const binding = start.headers.getSetCookie().map((line) => line.split(';')[0]).find((pair) => pair.includes('_flow='))!
  const back = await providerBrowser(env.OIDC_ISSUER).signIn(start.headers.get('location')!, 'grace')
  t.equal(`${back.origin}${back.pathname}`, `${appUrl}/oauth/oidc/callback`, 'the provider sends the browser to APP_URL/oauth/oidc/callback')
  const done = await fetch(back, { redirect: 'manual', headers: { cookie: binding } })
  t.equal(done.headers.get('location'), `${appUrl}/`)
  const access = done.headers.getSetCookie().map((line) => line.split(';')[0]).find((pair) => /fda_access=/.test(pair))!
  const me = await (await fetch(`${server.url}/me`, { headers: { cookie: access } })).json()
  t.equal(me.email, 'grace@example.test', 'signed in')
})
