/**
 * Provider sign-in as configured: misconfigurations fail before anything listens and name the option; a
 * provider down at start is a warning; kept provider tokens are sealed; the providers list for a page.
 */
import Fastify from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, { AuthService, ConfigurationError, google, github, microsoft, oidc } from '../src/index.ts'
import { sqliteStore } from '../src/db/sqlite/index.ts'
import { SECRET, testDatabase } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'
import { freePort } from './fixtures/free-port.ts'
import { API, APP, buildProviderApp, signIn } from './fixtures/oauth.ts'

const base = { database: ':memory:', secret: SECRET }
const corp = oidc({ issuer: 'https://idp.example', clientId: 'id', clientSecret: 'secret' })
const oauth = { callbackBaseUrl: API, allowedRedirects: [APP] }

t.test('misconfigurations are refused with the option named', async (t) => {
  const cases: Array<[string, object, RegExp]> = [
    ['no callbackBaseUrl', { providers: { corp }, oauth: { allowedRedirects: [APP] } }, /oauth\.callbackBaseUrl` is required/],
    ['no allowedRedirects', { providers: { corp }, oauth: { callbackBaseUrl: API } }, /oauth\.allowedRedirects` is required/],
    ['a plain-http callback', { providers: { corp }, oauth: { ...oauth, callbackBaseUrl: 'http://api.example' } }, /oauth\.callbackBaseUrl` must be an https URL/],
    ['a redirect with a query', { providers: { corp }, oauth: { ...oauth, allowedRedirects: ['https://app.example/?x=1'] } }, /oauth\.allowedRedirects` must be/],
    ['a name that is not a path segment', { providers: { 'Corp/1': corp }, oauth }, /the name 'Corp\/1' must be lower-case/],
    ['a name a route takes', { providers: { token: corp }, oauth }, /'token' is taken by a bundled route/],
    ['not a provider', { providers: { corp: { clientId: 'x' } }, oauth }, /`corp` must be made by oidc\(\)/],
    ['no secret', { providers: { corp: oidc({ issuer: 'https://idp.example', clientId: 'id', clientSecret: '' }) }, oauth }, /`corp\.clientSecret` is missing/],
    ['a plain-http issuer', { providers: { corp: oidc({ issuer: 'http://idp.example', clientId: 'id', clientSecret: 's' }) }, oauth }, /'http:\/\/idp\.example' must be an https URL/],
    ['a redirect that is no URL', { providers: { corp }, oauth: { ...oauth, allowedRedirects: ['app.example'] } }, /oauth\.allowedRedirects` must be/],
    ['a redirect with credentials', { providers: { corp }, oauth: { ...oauth, allowedRedirects: ['https://u:p@app.example'] } }, /oauth\.allowedRedirects` must be/],
    ['a redirect that is not http', { providers: { corp }, oauth: { ...oauth, allowedRedirects: ['ftp://app.example'] } }, /oauth\.allowedRedirects` must be/],
    ['redirects not strings', { providers: { corp }, oauth: { ...oauth, allowedRedirects: [42] } }, /oauth\.allowedRedirects` must be/],
    ['a plain-http GitHub API', { providers: { gh: github({ clientId: 'id', clientSecret: 's', endpoints: { api: 'http://api.github.example' } }) }, oauth }, /'http:\/\/api\.github\.example' must be an https URL/],
    ['an issuer that is not a string', { providers: { corp: { ...corp, issuer: 42 } }, oauth }, /'42' must be an https URL/],
    ['a hand-made GitHub provider without endpoints', { providers: { gh: { kind: 'github', label: 'GH', issuer: 'https://github.com', clientId: 'id', clientSecret: 's', scopes: [] } }, oauth }, /'undefined' must be an https URL/],
    ['oauth without providers', { oauth }, /`oauth` does nothing without `providers`/],
    ['an unknown oauth key', { providers: { corp }, oauth: { ...oauth, linkByEmail: true } }, /unknown option `oauth\.linkByEmail`/]
  ]
  for (const [name, options, message] of cases) {
    t.throws(() => new AuthService({ ...base, ...options } as never), message, name)
  }
  t.throws(() => microsoft({ tenant: 'common', clientId: 'id', clientSecret: 's' }), /tenant` must be your directory \(tenant\) id/)
  t.equal(microsoft({ tenant: '9188040d-6c67-4c5b-b112-36a304b66dad', clientId: 'id', clientSecret: 's' }).issuer, 'https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0')
  t.match(google({ clientId: 'id', clientSecret: 's' }), { kind: 'oidc', issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'], label: 'Google' })
  t.match(github({ clientId: 'id', clientSecret: 's' }), { kind: 'github', issuer: 'https://github.com', endpoints: { api: 'https://api.github.com' } })
  const { ProviderClients } = await import('../src/oauth/provider-clients.ts')
  const clients = new ProviderClients({ gh: github({ clientId: 'id', clientSecret: 's' }) }, 5, Date.now)
  const config = await clients.configuration('gh')
  t.equal(config.serverMetadata().token_endpoint, 'https://github.com/login/oauth/access_token', 'GitHub needs no discovery: its endpoints are fixed')
  t.equal(config.timeout, 5)
  t.match(google({ clientId: 'id', clientSecret: 's', scopes: ['openid', 'email'], authorizationParams: { prompt: 'select_account' } }),
    { scopes: ['openid', 'email'], authorizationParams: { prompt: 'select_account' } }, 'a preset only fills in defaults')
})

t.test('a store without the accounts facet cannot serve providers: ready() fails naming the option', async (t) => {
  const store = sqliteStore(':memory:')
  const { dialect, mode, users, sessions, limits, devices, actions, maintenance } = store
  const withoutAccounts = { dialect, mode: mode as 'sync', users, sessions, limits, devices, actions, maintenance, ready: async () => {}, close: async () => { await store.close() } }
  const service = new AuthService({ store: withoutAccounts, secret: SECRET, providers: { corp }, oauth })
  t.teardown(() => service.close())
  await t.rejects(service.ready(), new ConfigurationError('fastify-drizzle-auth: `providers` needs a store with the `accounts` facet (provider identities); this store has none'))
})

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: kept provider tokens are sealed; another secret opens nothing; the list of providers`, async (t) => {
    const p = await buildProviderApp(t, dialect, { tokenTransport: 'cookie', secureCookies: false, oauth: { storeTokens: true } as never })
    p.idp.accounts.set('tia', { email: 'tia@example.com', email_verified: true })
    t.same((await p.app.inject({ url: '/oauth/providers' })).json(), [{ name: 'corp', label: 'Corp' }])
    await signIn(p, 'tia')
    await signIn(p, 'tia')
    const [row] = await testDatabase(p.app).query('select a.tokens, a.user_id from auth_accounts a')
    const kept = await p.app.authService.getProviderToken(String(row.user_id), 'corp')
    t.match(kept, { accessToken: String, scope: /openid/, expiresAt: Date })
    t.notOk(String(row.tokens).includes(kept!.accessToken), 'the access token is not in the column in clear')
    t.equal(await p.app.authService.getProviderToken(String(row.user_id), 'other'), undefined)
    const other = new AuthService({ store: p.app.authService.store, secret: 'another-secret-that-is-at-least-32-bytes', providers: p.app.authService.config.providers, oauth })
    await t.rejects(other.getProviderToken(String(row.user_id), 'corp'), 'another secret cannot open it')
  })

  t.test(`${dialect}: an address in the ID token is taken from there; without one, from userinfo`, async (t) => {
    const p = await buildProviderApp(t, dialect, { tokenTransport: 'cookie', secureCookies: false })
    p.idp.accounts.set('uma', { email: 'uma-userinfo@example.com', email_verified: true })
    p.idp.tamper((claims) => ({ claims: { ...claims, email: 'uma-idtoken@example.com', email_verified: 'true' }, key: 'provider' }))
    await signIn(p, 'uma')
    p.idp.tamper(undefined)
    p.idp.accounts.set('vic', { email: 'vic-userinfo@example.com', email_verified: true })
    await signIn(p, 'vic')
    const emails = await testDatabase(p.app).query('select email, is_verified from auth_users order by email')
    t.same(emails.map((r) => [r.email, Boolean(r.is_verified)]), [['uma-idtoken@example.com', true], ['vic-userinfo@example.com', true]])
  })
}

t.test('a provider that cannot be reached at start is a warning, and the server starts', async (t) => {
  let warn: (line: string) => void = () => {}
  const warned = new Promise<string>((resolve) => { warn = resolve })
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { if (line.includes('cannot be reached')) warn(line) } } } })
  await app.register(fastifyDrizzleAuth, {
    ...base, routes: true, providers: { corp: oidc({ issuer: `http://127.0.0.1:${await freePort()}`, clientId: 'id', clientSecret: 's' }) }, oauth
  })
  t.teardown(() => app.close())
  await app.ready()
  t.match(JSON.parse(await warned), { provider: 'corp', msg: /identity provider 'corp' cannot be reached; sign-ins through it answer 503/ })
  const res = await app.inject({ url: '/oauth/corp' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'provider_unavailable')
})
