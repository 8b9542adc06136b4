/**
 * Provider sign-in through AuthService alone (no routes): the completion-code exchange refuses anything that
 * is not a live code of a live user, and the sign-in holds when the database moves under it (a parallel first
 * sign-in, a deactivation between the read and the session).
 */
import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import type { AccountStore } from '../src/index.ts'
import { testDatabase } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'
import { buildProviderApp, type ProviderApp } from './fixtures/oauth.ts'

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url')

/** A sign-in through the service: start, the provider's pages, the callback; the outcome. */
async function serviceSignIn (p: ProviderApp, subject: string, options: { codeChallenge?: string } = {}) {
  const oauth = p.app.authService.oauth
  const url = await oauth.start('corp', options)
  const back = await p.idp.signIn(url, subject)
  return await oauth.callback('corp', Object.fromEntries(back.searchParams), { completion: options.codeChallenge === undefined ? 'session' : 'code' })
}

/** Makes the next call of `method` answer as if read a moment earlier (before a parallel write committed). */
function staleOnce (accounts: AccountStore, method: 'findBySubject', p: ProviderApp, alsoEmail = false): void {
  const real = accounts[method].bind(accounts)
  accounts[method] = (async () => {
    accounts[method] = real
    return undefined
  }) as AccountStore['findBySubject']
  if (alsoEmail) {
    const users = p.app.authService.store.users
    const findByEmail = users.findByEmail.bind(users)
    users.findByEmail = async () => { users.findByEmail = findByEmail; return undefined }
  }
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: the code exchange refuses every code that is not live, and a code whose user is gone`, async (t) => {
    const p = await buildProviderApp(t, dialect)
    p.idp.accounts.set('wes', { email: 'wes@example.com', email_verified: true })
    const oauth = p.app.authService.oauth
    for (const [code, verifier] of [['short', null], [42, null], [randomBytes(32).toString('base64url'), 'too-short'], [randomBytes(32).toString('base64url'), null]] as const) {
      await t.rejects(oauth.exchange(code as string, verifier), { code: 'invalid_code', statusCode: 400 }, `${String(code)} / ${String(verifier)}`)
    }
    const verifier = randomBytes(48).toString('base64url')
    const outcome = await serviceSignIn(p, 'wes', { codeChallenge: s256(verifier) })
    t.equal(outcome.kind, 'code')
    await testDatabase(p.app).query('delete from auth_users')
    await testDatabase(p.app).query('delete from auth_accounts')
    await t.rejects(oauth.exchange((outcome as { code: string }).code, verifier), { code: 'invalid_code' }, 'the user went meanwhile')
    await t.rejects(oauth.start('corp', { codeChallenge: 'not-a-challenge' }), { code: 'invalid_argument' })
    await t.rejects(oauth.start('corp', { redirectTo: 42 as never }), { code: 'invalid_argument', message: /options\.redirectTo/ }, 'arguments are checked')
    await t.rejects(oauth.start('corp', 'x' as never), { code: 'invalid_argument' })
    const url = await oauth.start('corp')
    const back = await p.idp.signIn(url, 'wes')
    const session = await oauth.callback('corp', Object.fromEntries(back.searchParams))
    t.match(session, { kind: 'session', login: { user: { email: 'wes@example.com' } } }, 'framework-free, with no options at all')
  })

  t.test(`${dialect}: a parallel first sign-in of the same identity: the loser signs in to the user the winner made`, async (t) => {
    const p = await buildProviderApp(t, dialect)
    p.idp.accounts.set('xan', { email: 'xan@example.com', email_verified: true })
    t.equal((await serviceSignIn(p, 'xan')).kind, 'session')
    staleOnce(p.app.authService.store.accounts!, 'findBySubject', p, true)
    const second = await serviceSignIn(p, 'xan')
    t.match(second, { kind: 'session', login: { user: { email: 'xan@example.com' } } })
    t.equal(Number((await testDatabase(p.app).query('select count(*) as n from auth_users'))[0].n), 1)

    p.idp.accounts.set('xan-impostor', { email: 'xan@example.com', email_verified: true })
    staleOnce(p.app.authService.store.accounts!, 'findBySubject', p, true)
    const store = p.app.authService.store.accounts!
    const findBySubject = store.findBySubject.bind(store)
    // The stale read above, then the real one after the insert lost: nobody has this identity.
    await t.rejects(serviceSignIn(p, 'xan-impostor'), { code: 'account_exists' }, 'another identity with that address: not linked through the race')
    store.findBySubject = findBySubject
  })

  t.test(`${dialect}: an address unverified between the read and the link: the statement refuses it`, async (t) => {
    const p = await buildProviderApp(t, dialect)
    await p.app.authService.register('vera@example.com', 'Correct-Horse-9-Battery')
    const users = p.app.authService.store.users
    const findByEmail = users.findByEmail.bind(users)
    // The service reads the account as verified; by the time the link is written it no longer is.
    users.findByEmail = async (email) => {
      const found = await findByEmail(email)
      return found === undefined ? undefined : { ...found, isVerified: true }
    }
    t.teardown(() => { users.findByEmail = findByEmail })
    p.idp.accounts.set('vera-sub', { email: 'vera@example.com', email_verified: true })
    await t.rejects(serviceSignIn(p, 'vera-sub'), { code: 'account_exists' })
    t.equal(Number((await testDatabase(p.app).query('select count(*) as n from auth_accounts'))[0].n), 0)
  })

  t.test(`${dialect}: deactivated between the read and the session: refused, nothing opened`, async (t) => {
    const p = await buildProviderApp(t, dialect)
    p.idp.accounts.set('yul', { email: 'yul@example.com', email_verified: true })
    await serviceSignIn(p, 'yul')
    const accounts = p.app.authService.store.accounts!
    const sighted = accounts.sighted.bind(accounts)
    accounts.sighted = async (id, sighting) => {
      await sighted(id, sighting)
      const [user] = await testDatabase(p.app).query("select id from auth_users where email = 'yul@example.com'")
      await p.app.authService.deactivate(String(user.id))
    }
    await t.rejects(serviceSignIn(p, 'yul'), { code: 'invalid_credentials', statusCode: 401 })
    accounts.sighted = sighted
  })

  t.test(`${dialect}: an ID token with an empty address: email_unavailable`, async (t) => {
    const p = await buildProviderApp(t, dialect)
    p.idp.accounts.set('zed', {})
    p.idp.tamper((claims) => ({ claims: { ...claims, email: '' }, key: 'provider' }))
    await t.rejects(serviceSignIn(p, 'zed'), { code: 'email_unavailable' })
  })
}
