/**
 * Provider sign-in under attack, against a real OpenID provider: replayed and parallel callbacks, a nonce
 * or an ID token that is not this flow's, a stale flow, a cancelled sign-in, a provider down or hanging, and
 * return addresses that would make the plugin an open redirect.
 */
import t from 'tap'
import { testDatabase } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'
import { APP, buildProviderApp, callback, signIn, start } from './fixtures/oauth.ts'

const COOKIES = { tokenTransport: 'cookie', secureCookies: false } as const
const fragment = (location: unknown) => new URLSearchParams(new URL(String(location)).hash.slice(1))
const countRows = async (p: { app: Parameters<typeof testDatabase>[0] }, table: string) =>
  Number((await testDatabase(p.app).query(`select count(*) as n from ${table}`))[0].n)

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: a callback works once: a replay, and parallel callbacks, give exactly one session`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    p.idp.accounts.set('carol', { email: 'carol@example.com', email_verified: true })
    const first = await start(p.app)
    const back = await p.idp.signIn(first.location, 'carol')
    const answers = await Promise.all([1, 2, 3].map(async () => await callback(p.app, back, first.cookie)))
    t.same(answers.map((a) => a.statusCode).sort(), [302, 400, 400], 'one goes through')
    for (const loser of answers.filter((a) => a.statusCode === 400)) t.equal(loser.json().code, 'invalid_state')
    t.equal(await countRows(p, 'auth_sessions'), 1, 'exactly one session')
    const replay = await callback(p.app, back, first.cookie)
    t.equal(replay.statusCode, 400)
    t.equal(replay.json().code, 'invalid_state', 'a replay later: refused')
    t.equal(await countRows(p, 'auth_sessions'), 1)
  })

  t.test(`${dialect}: an ID token that is not this flow's is refused, nothing written`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    p.idp.accounts.set('dave', { email: 'dave@example.com', email_verified: true })
    const cases: Array<[string, Parameters<typeof p.idp.tamper>[0]]> = [
      ['another audience', (claims) => ({ claims: { ...claims, aud: 'someone-else' }, key: 'provider' })],
      ['another issuer', (claims) => ({ claims: { ...claims, iss: 'https://evil.example' }, key: 'provider' })],
      ['a key the provider never published', (claims) => ({ claims, key: 'foreign' })],
      ['another nonce', (claims) => ({ claims: { ...claims, nonce: 'not-this-flow' }, key: 'provider' })],
      ['expired', (claims) => ({ claims: { ...claims, exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }, key: 'provider' })]
    ]
    for (const [name, change] of cases) {
      p.idp.tamper(change)
      const res = await signIn(p, 'dave')
      t.equal(res.statusCode, 302, name)
      t.equal(fragment(res.headers.location).get('error'), 'provider_error', `${name}: back to the page with provider_error (${String(res.headers.location)})`)
      t.notOk(res.cookies.some((c) => c.name === 'fda_access'), `${name}: no cookie`)
    }
    t.equal(await countRows(p, 'auth_users'), 0, 'no user made')
    t.equal(await countRows(p, 'auth_sessions'), 0, 'no session made')
    p.idp.tamper((claims) => ({ claims, key: 'provider' }))
    t.equal((await signIn(p, 'dave')).statusCode, 302, 'a token re-signed with the provider\'s own key and the same claims passes')
    t.equal(await countRows(p, 'auth_sessions'), 1, 'so the refusals above were the claims and the key, not the rewrite')
  })

  t.test(`${dialect}: a refused ID token is logged by what failed, never with the code, a token or the person's claims`, async (t) => {
    const lines: string[] = []
    const p = await buildProviderApp(t, dialect, COOKIES, undefined, { logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
    p.idp.accounts.set('lou', { email: 'lou-private@example.com', email_verified: true })
    p.idp.tamper((claims) => ({ claims: { ...claims, email: 'lou-private@example.com', aud: 'someone-else' }, key: 'provider' }))
    const started = await start(p.app)
    const back = await p.idp.signIn(started.location, 'lou')
    const res = await callback(p.app, back, started.cookie)
    t.equal(fragment(res.headers.location).get('error'), 'provider_error')
    const logged = lines.join('\n')
    t.match(logged, /provider sign-in failed: provider_error/, 'the operator sees that it failed and why')
    for (const secret of [back.searchParams.get('code')!, back.searchParams.get('state')!, 'lou-private', 'eyJ']) {
      t.notOk(logged.includes(secret), `the log holds no ${secret.slice(0, 8)}...`)
    }
  })

  t.test(`${dialect}: the provider rotates its keys: a key set read less than a minute ago is not refetched for an unknown key`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    p.idp.accounts.set('erin', { email: 'erin@example.com', email_verified: true })
    t.equal(fragment((await signIn(p, 'erin')).headers.location).get('error'), null, 'signed in under the first key')
    await p.idp.stop()
    await p.idp.restart({ newKeys: true })
    // openid-client refetches a key set for an unknown key only once it is a minute old: a forged `kid`
    // cannot make it hammer the provider. Until then the new key is another key.
    const running = await signIn(p, 'erin')
    t.equal(fragment(running.headers.location).get('error'), 'provider_error', 'the running app: refused, not a 500')
    const fresh = await buildProviderApp(t, dialect, COOKIES, p.idp)
    const res = await signIn(fresh, 'erin')
    t.equal(fragment(res.headers.location).get('error'), null, 'an app that reads the new key set signs in under the new key')
    t.ok(res.cookies.some((c) => c.name === 'fda_access'))
  })

  t.test(`${dialect}: a flow lives 10 minutes`, async (t) => {
    let now = Date.now()
    const p = await buildProviderApp(t, dialect, { clock: () => now })
    p.idp.accounts.set('fay', { email: 'fay@example.com', email_verified: true })
    const started = await start(p.app)
    const back = await p.idp.signIn(started.location, 'fay')
    now += 10 * 60_000 + 1
    const res = await callback(p.app, back, started.cookie)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'invalid_state', 'expired: refused as unknown (the return address is not trusted from a dead flow)')
    await start(p.app)
    t.equal(await p.app.authService.purgeExpired(), 1, 'the purge takes the ended flow and leaves the live one')
    t.equal(await countRows(p, 'auth_oauth_flows'), 1)
  })

  t.test(`${dialect}: parallel first sign-ins: one person gets one user; another person with the same address gets account_exists`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    p.idp.accounts.set('twin', { email: 'twin@example.com', email_verified: true })
    p.idp.accounts.set('other-twin', { email: 'twin@example.com', email_verified: false })
    const flows = await Promise.all([start(p.app), start(p.app)])
    const backs = [await p.idp.signIn(flows[0].location, 'twin'), await p.idp.signIn(flows[1].location, 'twin')]
    const answers = await Promise.all(backs.map(async (back, i) => await callback(p.app, back, flows[i].cookie)))
    t.same(answers.map((a) => fragment(a.headers.location).get('error')), [null, null], 'both of the same person\'s sign-ins succeed')
    // (Which of two different identities claiming one address wins a race is the database's to decide; the
    // conformance kit holds that exactly one is written.)
    const other = await signIn(p, 'other-twin')
    t.equal(fragment(other.headers.location).get('error'), 'account_exists', 'the other identity is not linked by an unverified address')
    t.equal(await countRows(p, 'auth_users'), 1, 'one user')
    t.equal(await countRows(p, 'auth_accounts'), 1, 'one identity')
    t.equal(await countRows(p, 'auth_sessions'), 2)
  })

  t.test(`${dialect}: a provider error other than access_denied: provider_error, logged for the operator`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    const started = await start(p.app)
    const state = new URL(started.location).searchParams.get('state')!
    const res = await p.app.inject({ url: `/oauth/corp/callback?error=server_error&error_description=${encodeURIComponent('db down at provider')}&state=${state}`, headers: { cookie: started.cookie } })
    t.equal(res.headers.location, `${APP}/#error=provider_error`)
    const unknown = await p.app.inject({ url: '/oauth/corp/callback?code=abc&state=not-a-state' })
    t.equal(unknown.statusCode, 400)
    t.equal(unknown.json().code, 'invalid_state', 'no flow, no return address: JSON')
  })

  t.test(`${dialect}: cancelled at the provider: back to the page with access_denied`, async (t) => {
    const p = await buildProviderApp(t, dialect)
    const started = await start(p.app, `?redirectTo=${encodeURIComponent(`${APP}/signin`)}`)
    const back = await p.idp.cancel(started.location)
    t.equal(back.searchParams.get('error'), 'access_denied')
    const res = await callback(p.app, back, started.cookie)
    t.equal(res.statusCode, 302)
    t.equal(res.headers.location, `${APP}/signin#error=access_denied`)
    t.notMatch(res.body, /stack|End-User/, 'nothing of the provider\'s answer')
  })

  t.test(`${dialect}: a provider down is 503 provider_unavailable, never a crash, and is asked again later`, async (t) => {
    let now = Date.now()
    const p = await buildProviderApp(t, dialect, { clock: () => now })
    p.idp.accounts.set('gil', { email: 'gil@example.com', email_verified: true })
    const started = await start(p.app)
    const back = await p.idp.signIn(started.location, 'gil')
    await p.idp.stop()
    const res = await callback(p.app, back, started.cookie)
    t.equal(res.statusCode, 302)
    t.equal(fragment(res.headers.location).get('error'), 'provider_unavailable', 'the code exchange could not reach it')

    const cold = await buildProviderApp(t, dialect, { clock: () => now }, p.idp)
    const refused = await cold.app.inject({ url: '/oauth/corp' })
    t.equal(refused.statusCode, 503, 'discovery cannot reach it: the start is refused')
    t.equal(refused.json().code, 'provider_unavailable')
    t.ok(refused.headers['retry-after'])
    await p.idp.restart()
    now += 2001
    t.equal((await cold.app.inject({ url: '/oauth/corp' })).statusCode, 302, 'asked again once it is back')
  })

  t.test(`${dialect}: a provider that hangs is 503 after oauth.timeoutSeconds`, async (t) => {
    const p = await buildProviderApp(t, dialect, { oauth: { timeoutSeconds: 1 } as never })
    p.idp.accounts.set('hal', { email: 'hal@example.com', email_verified: true })
    const started = await start(p.app)
    const back = await p.idp.signIn(started.location, 'hal')
    const hold = p.idp.hang()
    t.teardown(hold.release)
    const res = await callback(p.app, back, started.cookie)
    hold.release()
    t.equal(res.statusCode, 302)
    t.equal(fragment(res.headers.location).get('error'), 'provider_unavailable')
  })

  t.test(`${dialect}: return addresses outside oauth.allowedRedirects are refused before leaving`, async (t) => {
    const p = await buildProviderApp(t, dialect, { oauth: { allowedRedirects: [`${APP}/account/`, `${APP}/settings`] } as never })
    const attempts = [
      '//evil.example', 'https://evil.example', '/\\evil.example', '\\/evil.example', 'https://evil.example:443@app.example.evil.example',
      'https://app.example.evil.example/account/', 'https://app.example@evil.example/account/', 'javascript:alert(1)//account/',
      'http://app.example/account/', 'https://app.example:8443/account/', 'https://app.example/accounting', 'https://app.example/account/../admin',
      'https://app.example/%2e%2e/admin', '/\t/evil.example', 'data:text/html,hi', 'https://[::1', '/settingsx', '/settings.evil'
    ]
    for (const target of attempts) {
      const res = await p.app.inject({ url: `/oauth/corp?redirectTo=${encodeURIComponent(target)}` })
      t.equal(res.statusCode, 400, target)
      t.equal(res.json().code, 'invalid_redirect', target)
    }
    t.equal(await countRows(p, 'auth_oauth_flows'), 0, 'no flow stored for any of them')
    const ok = await p.app.inject({ url: `/oauth/corp?redirectTo=${encodeURIComponent('/account/settings')}` })
    t.equal(ok.statusCode, 302, 'a path under the allowed prefix')
    for (const path of ['/settings', '/settings/', '/settings/security']) {
      t.equal((await p.app.inject({ url: `/oauth/corp?redirectTo=${encodeURIComponent(path)}` })).statusCode, 302, `${path}: under a prefix given without its slash`)
    }
    const encoded = await p.app.inject({ url: `/oauth/corp?redirectTo=${encodeURIComponent('/account/%2F%2Fevil.example')}` })
    t.equal(encoded.statusCode, 302, 'an encoded // stays a path on the allowed origin')
    const stored = await testDatabase(p.app).query('select redirect_to from auth_oauth_flows order by created_at')
    t.same(stored.map((row) => row.redirect_to).filter((to) => String(to).includes('/account/')), [`${APP}/account/settings`, `${APP}/account/%2F%2Fevil.example`], 'the parsed address is what is kept')
  })

  t.test(`${dialect}: a sign-in needs no cookie from its start (the state is server-side); a link ends only for whoever started it`, async (t) => {
    const p = await buildProviderApp(t, dialect, { tokenTransport: 'cookie', secureCookies: false })
    p.idp.accounts.set('nadia', { email: 'nadia@example.com', email_verified: true })
    const started = await start(p.app)
    t.equal(started.cookie, '', 'a sign-in sets no cookie at its start')
    const lostCookie = await callback(p.app, await p.idp.signIn(started.location, 'nadia'))
    t.ok(lostCookie.cookies.some((c) => c.name === 'fda_access'), 'signed in all the same')

    // The attacker starts a link to their own account and sends the victim to finish it at the provider.
    p.idp.accounts.set('mallory', { email: 'mallory@example.com', email_verified: true })
    const mallory = await signIn(p, 'mallory')
    const malloryCookie = `fda_access=${mallory.cookies.find((c) => c.name === 'fda_access')!.value}`
    const victimCookie = `fda_access=${lostCookie.cookies.find((c) => c.name === 'fda_access')!.value}`
    for (const [who, given] of [['signed out', ''], ['signed in as herself', victimCookie], ['holding a tossed-in copy of the flow cookie', 'TWICE']]) {
      const link = await start(p.app, '?link=1', { cookie: malloryCookie, 'sec-fetch-site': 'same-origin' })
      // A sibling subdomain can add a cookie of the same name: sent twice, it binds nothing.
      const cookie = given === 'TWICE' ? `${link.cookie}; ${link.cookie}` : given
      t.not(link.cookie, '', 'a link binds itself to the browser that started it')
      const victimBack = await p.idp.signIn(link.location, 'nadia')
      const res = await callback(p.app, victimBack, cookie)
      const linkCode = fragment(res.headers.location).get('link_code')
      t.ok(linkCode, `the victim's browser (${who}) finishes no link: it gets a code only the starting user could exchange`)
      const asVictim = await p.app.inject({ method: 'POST', url: '/oauth/link/complete', headers: { cookie: victimCookie, 'sec-fetch-site': 'same-origin' }, payload: { code: linkCode } })
      t.equal(asVictim.json().code, 'invalid_code', 'and her own page exchanging it links nothing')
    }
    t.equal(await countRows(p, 'auth_accounts'), 2, 'nadia\'s identity stays hers, none is added to mallory')
    const own = await start(p.app, '?link=1', { cookie: malloryCookie, 'sec-fetch-site': 'same-origin' })
    p.idp.accounts.set('mallory-2', { email: 'mallory2@example.com', email_verified: true })
    const ownBack = await p.idp.signIn(own.location, 'mallory-2')
    t.equal(fragment((await callback(p.app, ownBack, malloryCookie)).headers.location).get('error'), 'provider_already_linked',
      'the starting user\'s own session finishes it (without the flow cookie)')
  })

  t.test(`${dialect}: starts and callbacks are limited per address`, async (t) => {
    const p = await buildProviderApp(t, dialect, { oauth: { rateLimit: { maxPerIp: 2, windowSeconds: 60 } } as never })
    t.equal((await p.app.inject({ url: '/oauth/corp' })).statusCode, 302)
    t.equal((await p.app.inject({ url: '/oauth/corp' })).statusCode, 302)
    const third = await p.app.inject({ url: '/oauth/corp' })
    t.equal(third.statusCode, 429)
    t.equal(third.json().code, 'rate_limited')
    t.equal((await p.app.inject({ url: '/oauth/nobody' })).statusCode, 404, 'an unknown provider is 404 unknown_provider')
  })
}
