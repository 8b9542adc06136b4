/**
 * Whose account a provider sign-in opens. A first sign-in links to an existing account only when the
 * provider and the account both vouch for the address; otherwise 409 `account_exists` and nothing written,
 * so neither an attacker who registered the victim's address with a password, nor a provider that does not
 * verify addresses, gains a way in. Explicit links, links elsewhere, unlinking the last way in, and users
 * without a password.
 */
import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import type { MailMessage } from '../src/index.ts'
import { PASSWORD, bearer, registerAndLogin, testDatabase } from './fixtures/app.ts'
import { spyBcrypt } from './fixtures/bcrypt-spy.ts'
import { availableDialects } from './fixtures/databases.ts'
import { APP, buildProviderApp, callback, type ProviderApp, signIn, start } from './fixtures/oauth.ts'

const COOKIES = { tokenTransport: 'both', secureCookies: false } as const
const LINKS = { verifyEmail: `${APP}/verify?token={token}`, resetPassword: `${APP}/reset?token={token}`, changeEmail: `${APP}/confirm?token={token}` }
const fragment = (location: unknown) => new URLSearchParams(new URL(String(location)).hash.slice(1))
const rows = async (p: ProviderApp, sql: string) => await testDatabase(p.app).query(sql)
const accessCookie = (res: { cookies: Array<{ name: string, value: string }> }) => res.cookies.find((c) => c.name === 'fda_access')?.value

async function verifiedUser (p: ProviderApp, email: string, verified: boolean) {
  const session = await registerAndLogin(p.app, email)
  if (verified) await rows(p, `update auth_users set is_verified = ${p.app.authService.store.dialect === 'sqlite' ? 1 : 'true'} where email = '${email}'`)
  return session
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: a verified address on both sides links automatically and opens that account`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    await verifiedUser(p, 'victor@example.com', true)
    const linked: unknown[] = []
    p.app.authService.on('account_linked', (event) => { linked.push(event) })
    p.idp.accounts.set('victor-sub', { email: 'victor@example.com', email_verified: true })
    const res = await signIn(p, 'victor-sub')
    t.equal(fragment(res.headers.location).get('error'), null)
    const me = await p.app.inject({ url: '/me', headers: { cookie: `fda_access=${accessCookie(res)}` } })
    t.equal(me.json().email, 'victor@example.com', 'the existing account')
    t.equal((await rows(p, 'select count(*) as n from auth_users'))[0].n, dialect === 'sqlite' ? 1 : '1')
    t.match(linked, [{ provider: 'corp', automatic: true }])
  })

  for (const [name, providerVerified, accountVerified, optionOn] of [
    ['the account\'s address is unverified (registered by someone else, say)', true, false, true],
    ['the provider does not say the address is verified', false, true, true],
    ['oauth.linkByVerifiedEmail is false', true, true, false]
  ] as const) {
    t.test(`${dialect}: no automatic link when ${name}: 409 account_exists, nothing written`, async (t) => {
      const p = await buildProviderApp(t, dialect, { ...COOKIES, oauth: { linkByVerifiedEmail: optionOn } as never })
      await verifiedUser(p, 'victim@example.com', accountVerified)
      const before = await rows(p, 'select password_hash, is_verified from auth_users')
      p.idp.accounts.set('someone', { email: 'Victim@example.com', email_verified: providerVerified })
      const res = await signIn(p, 'someone')
      t.equal(res.statusCode, 302)
      t.equal(fragment(res.headers.location).get('error'), 'account_exists')
      t.notOk(accessCookie(res), 'nobody signed in')
      t.same(await rows(p, 'select count(*) as n from auth_accounts'), [{ n: dialect === 'sqlite' ? 0 : '0' }], 'no identity linked')
      t.same(await rows(p, 'select password_hash, is_verified from auth_users'), before, 'the account unchanged')
      t.equal((await rows(p, 'select count(*) as n from auth_sessions'))[0].n, dialect === 'sqlite' ? 1 : '1', 'only the registration\'s own login session')
    })
  }

  t.test(`${dialect}: the pre-registered attacker: the victim's first provider sign-in never lands in the attacker's account`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    // The attacker registers the victim's address with a password of their own and never verifies it.
    const attacker = await registerAndLogin(p.app, 'victim@example.com', PASSWORD)
    p.idp.accounts.set('victim-at-provider', { email: 'victim@example.com', email_verified: true })
    const res = await signIn(p, 'victim-at-provider')
    t.equal(fragment(res.headers.location).get('error'), 'account_exists')
    const accounts = await p.app.inject({ url: '/accounts', headers: bearer(attacker.accessToken) })
    t.same(accounts.json(), [], 'the attacker\'s account gained no provider login')
  })

  t.test(`${dialect}: a signed-in user links a provider explicitly; linked elsewhere is refused`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    const alice = await registerAndLogin(p.app, 'alice@example.com')
    const bob = await registerAndLogin(p.app, 'bob@example.com')
    p.idp.accounts.set('alice-corp', { email: 'alice.work@corp.example', email_verified: false })

    const started = await start(p.app, '?link=1', bearer(alice.accessToken))
    const back = await p.idp.signIn(started.location, 'alice-corp')
    const res = await callback(p.app, back, started.cookie)
    t.equal(res.headers.location, `${APP}/`, 'back, linked')
    t.ok(res.cookies.find((c) => c.name === 'fda_access_flow' && c.maxAge === 0), 'the link\'s flow cookie is cleared')
    const listed = await p.app.inject({ url: '/accounts', headers: bearer(alice.accessToken) })
    t.match(listed.json(), [{ provider: 'corp', email: 'alice.work@corp.example', email_verified: false }])
    t.notOk(accessCookie(res), 'a link signs nobody in')

    const viaPost = await p.app.inject({ method: 'POST', url: '/oauth/corp/link', headers: bearer(bob.accessToken) })
    t.equal(viaPost.statusCode, 200, 'bearer clients get the URL')
    const binding = viaPost.cookies.find((c) => c.name.endsWith('_flow'))!
    const bobBack = await p.idp.signIn(viaPost.json().url, 'alice-corp')
    const refused = await callback(p.app, bobBack, `${binding.name}=${binding.value}`)
    t.equal(fragment(refused.headers.location).get('error'), 'account_linked_elsewhere')
    t.same((await p.app.inject({ url: '/accounts', headers: bearer(bob.accessToken) })).json(), [])

    // A bearer client's browser has neither the flow cookie nor a session: the link waits for its code.
    p.idp.accounts.set('bob-corp', { email: 'bob@corp.example', email_verified: true })
    const verifier = 'v'.repeat(20) + randomBytes(24).toString('base64url')
    const challenge = createHash('sha256').update(verifier).digest('base64url')
    const bobStart = await p.app.inject({ method: 'POST', url: '/oauth/corp/link', headers: bearer(bob.accessToken), payload: { code_challenge: challenge } })
    const bobLinkBack = await callback(p.app, await p.idp.signIn(bobStart.json().url, 'bob-corp'))
    const linkCode = fragment(bobLinkBack.headers.location).get('link_code')!
    t.match(linkCode, /^[A-Za-z0-9_-]{43}$/, 'back with #link_code=')
    const atToken = await p.app.inject({ method: 'POST', url: '/oauth/token', payload: { code: linkCode, code_verifier: verifier } })
    t.equal(atToken.json().code, 'invalid_code', 'a link code signs nobody in')
    const bobStart2 = await p.app.inject({ method: 'POST', url: '/oauth/corp/link', headers: bearer(bob.accessToken), payload: { code_challenge: challenge } })
    const linkCode2 = fragment((await callback(p.app, await p.idp.signIn(bobStart2.json().url, 'bob-corp'))).headers.location).get('link_code')!
    const noVerifier = await p.app.inject({ method: 'POST', url: '/oauth/link/complete', headers: bearer(bob.accessToken), payload: { code: linkCode2 } })
    t.equal(noVerifier.json().code, 'invalid_code', 'without the verifier of its challenge: refused')
    const asAlice = await p.app.inject({ method: 'POST', url: '/oauth/link/complete', headers: bearer(alice.accessToken), payload: { code: linkCode2, code_verifier: verifier } })
    t.equal(asAlice.json().code, 'invalid_code', 'another user: refused')
    const bobStart3 = await p.app.inject({ method: 'POST', url: '/oauth/corp/link', headers: bearer(bob.accessToken), payload: { code_challenge: challenge } })
    const linkCode3 = fragment((await callback(p.app, await p.idp.signIn(bobStart3.json().url, 'bob-corp'))).headers.location).get('link_code')!
    const completed = await p.app.inject({ method: 'POST', url: '/oauth/link/complete', headers: bearer(bob.accessToken), payload: { code: linkCode3, code_verifier: verifier } })
    t.same(completed.json(), { provider: 'corp' }, 'the user who started it, with the verifier: linked')
    t.match((await p.app.inject({ url: '/accounts', headers: bearer(bob.accessToken) })).json(), [{ provider: 'corp', email: 'bob@corp.example' }])

    const twice = await start(p.app, '?link=1', bearer(alice.accessToken))
    t.equal((await callback(p.app, await p.idp.signIn(twice.location, 'alice-corp'), twice.cookie)).headers.location, `${APP}/`, 'linking what is linked already: fine')
    p.idp.accounts.set('alice-other', { email: 'alice.other@corp.example', email_verified: true })
    const another = await start(p.app, '?link=1', bearer(alice.accessToken))
    const taken = await callback(p.app, await p.idp.signIn(another.location, 'alice-other'), another.cookie)
    t.equal(fragment(taken.headers.location).get('error'), 'provider_already_linked', 'a second identity at the same provider: unlink the first')

    const signedIn = await signIn(p, 'alice-corp')
    const me = await p.app.inject({ url: '/me', headers: { cookie: `fda_access=${accessCookie(signedIn)}` } })
    t.equal(me.json().email, 'alice@example.com', 'the linked provider now signs Alice in')
    const stamped = (await p.app.inject({ url: '/accounts', headers: bearer(alice.accessToken) })).json()
    t.ok(Date.parse(stamped[0].last_login_at) > 0, 'and the identity says when it was last used')
    t.equal((await p.app.inject({ url: '/oauth/corp?link=1' })).statusCode, 401, 'linking needs a signed-in user')
  })

  t.test(`${dialect}: a link whose user was deactivated meanwhile is refused`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    const dana = await registerAndLogin(p.app, 'dana@example.com')
    p.idp.accounts.set('dana-corp', { email: 'dana@corp.example', email_verified: true })
    const started = await start(p.app, '?link=1', bearer(dana.accessToken))
    const back = await p.idp.signIn(started.location, 'dana-corp')
    const [row] = await rows(p, "select id from auth_users where email = 'dana@example.com'")
    await p.app.authService.deactivate(String(row.id))
    const res = await callback(p.app, back, started.cookie)
    t.equal(fragment(res.headers.location).get('error'), 'invalid_credentials')
    t.same((await rows(p, 'select count(*) as n from auth_accounts'))[0].n, dialect === 'sqlite' ? 0 : '0')
  })

  t.test(`${dialect}: a users table that refuses a provider's new user: its refusal, on the error redirect`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    await rows(p, dialect === 'sqlite'
      ? "create trigger no_corp before insert on auth_users when new.email like '%@refused.example' begin select raise(abort, 'refused'); end"
      : 'alter table auth_users add column nickname text not null')
    p.idp.accounts.set('ref', { email: 'ref@refused.example', email_verified: true })
    const res = await signIn(p, 'ref')
    t.match(fragment(res.headers.location).get('error'), /^(invalid_field|service_unavailable)$/, 'a coded answer, never the database\'s words')
    t.notMatch(res.headers.location, /SQLITE|violat|nickname|refused'/)
    t.same((await rows(p, 'select count(*) as n from auth_accounts'))[0].n, dialect === 'sqlite' ? 0 : '0', 'nothing half-written')
  })

  t.test(`${dialect}: a cookie link from another site is refused`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    p.idp.accounts.set('carl', { email: 'carl@example.com', email_verified: true })
    const res = await signIn(p, 'carl')
    const cookie = `fda_access=${accessCookie(res)}`
    const cross = await p.app.inject({ url: '/oauth/corp?link=1', headers: { cookie, 'sec-fetch-site': 'cross-site' } })
    t.equal(cross.statusCode, 403)
    t.equal(cross.json().code, 'csrf_rejected')
    const same = await p.app.inject({ url: '/oauth/corp?link=1', headers: { cookie, 'sec-fetch-site': 'same-origin' } })
    t.equal(same.statusCode, 302, 'from the app\'s own page it starts')
  })

  t.test(`${dialect}: unlinking: refused for the last way in, allowed with a password; a provider user sets one through reset`, async (t) => {
    let delivered: (message: MailMessage) => void = () => {}
    const reset = new Promise<MailMessage>((resolve) => { delivered = resolve })
    const p = await buildProviderApp(t, dialect, { ...COOKIES, mailer: { send: (m: MailMessage) => { if (m.type === 'reset_password') delivered(m) } }, links: LINKS })
    p.idp.accounts.set('pia', { email: 'pia@example.com', email_verified: true })
    const unlinked: unknown[] = []
    p.app.authService.on('account_unlinked', (event) => { unlinked.push(event) })
    const signed = await signIn(p, 'pia')
    const cookie = { cookie: `fda_access=${accessCookie(signed)}`, 'sec-fetch-site': 'same-origin' }
    t.same(await rows(p, 'select password_hash from auth_users'), [{ password_hash: null }], 'a provider user has no password')

    const last = await p.app.inject({ method: 'DELETE', url: '/accounts/corp', headers: cookie })
    t.equal(last.statusCode, 409)
    t.equal(last.json().code, 'last_sign_in_method')
    const change = await p.app.inject({ method: 'POST', url: '/password', headers: cookie, payload: { current_password: 'whatever-it-was', new_password: 'A-New-Horse-5-Staple' } })
    t.equal(change.statusCode, 409)
    t.equal(change.json().code, 'no_password', 'a change needs a password to change')
    t.match(change.json().detail, /forgot password/)

    t.equal((await p.app.inject({ method: 'POST', url: '/password/forgot', payload: { email: 'pia@example.com' } })).statusCode, 202)
    await p.app.authService.deliverMail()
    const token = new URL((await reset as { link: string }).link).searchParams.get('token')
    t.equal((await p.app.inject({ method: 'POST', url: '/password/reset', payload: { token, new_password: 'A-New-Horse-5-Staple' } })).statusCode, 200)
    t.equal((await p.app.inject({ method: 'POST', url: '/login', payload: { email: 'pia@example.com', password: 'A-New-Horse-5-Staple' } })).statusCode, 200, 'now a password works')

    const again = await signIn(p, 'pia')
    const removed = await p.app.inject({ method: 'DELETE', url: '/accounts/corp', headers: { cookie: `fda_access=${accessCookie(again)}`, 'sec-fetch-site': 'same-origin' } })
    t.equal(removed.statusCode, 204, 'with a password, the provider can go')
    t.match(unlinked, [{ provider: 'corp' }])
    const gone = await p.app.inject({ method: 'DELETE', url: '/accounts/corp', headers: { cookie: `fda_access=${accessCookie(again)}`, 'sec-fetch-site': 'same-origin' } })
    t.equal(gone.statusCode, 404)
    t.equal(gone.json().code, 'account_not_linked')
  })

  t.test(`${dialect}: a password login to an account without a password: the same answer and the same hash work as a wrong password`, async (t) => {
    const p = await buildProviderApp(t, dialect, COOKIES)
    await registerAndLogin(p.app, 'has-password@example.com')
    p.idp.accounts.set('nopw', { email: 'nopw@example.com', email_verified: true })
    await signIn(p, 'nopw')
    const bcrypt = spyBcrypt(t)
    const noPassword = await p.app.inject({ method: 'POST', url: '/login', payload: { email: 'nopw@example.com', password: 'Some-Guess-1-Here' } })
    const noPasswordCalls = bcrypt.compare.slice()
    bcrypt.compare.length = 0
    const wrong = await p.app.inject({ method: 'POST', url: '/login', payload: { email: 'has-password@example.com', password: 'Some-Guess-1-Here' } })
    t.equal(noPassword.statusCode, 401)
    t.equal(noPassword.body, wrong.body, 'byte for byte')
    t.same(noPasswordCalls, bcrypt.compare, 'one comparison at the same cost each')
    t.equal(noPasswordCalls.length, 1)
  })

  t.test(`${dialect}: a provider sign-in follows the account's rules: deactivated, unverified with requireVerifiedEmail`, async (t) => {
    const sent: MailMessage[] = []
    const p = await buildProviderApp(t, dialect, { ...COOKIES, mailer: { send: (m: MailMessage) => { sent.push(m) } }, links: LINKS, requireVerifiedEmail: true })
    p.idp.accounts.set('unverified', { email: 'unverified@example.com', email_verified: false })
    const res = await signIn(p, 'unverified')
    t.equal(fragment(res.headers.location).get('error'), 'email_not_verified', 'the provider did not verify it: the account exists, unverified')
    p.idp.accounts.set('quinn', { email: 'quinn@example.com', email_verified: true })
    t.ok(accessCookie(await signIn(p, 'quinn')), 'a verified one signs in')
    const [quinn] = await rows(p, "select id from auth_users where email = 'quinn@example.com'")
    await p.app.authService.deactivate(String(quinn.id))
    const refused = await signIn(p, 'quinn')
    t.equal(fragment(refused.headers.location).get('error'), 'invalid_credentials', 'deactivated: refused')
    t.notOk(accessCookie(refused))
  })
}
