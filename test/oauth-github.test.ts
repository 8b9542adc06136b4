/**
 * GitHub (OAuth 2.0 without OpenID Connect) through a local server speaking its endpoints: the id from
 * `/user`, the address from `/user/emails`, where only the primary, verified one counts.
 */
import t from 'tap'
import { github } from '../src/index.ts'
import { buildApp, registerAndLogin, testDatabase } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'
import { startGitHub } from './fixtures/github-server.ts'

const API = 'https://api.example'
const APP = 'https://app.example'

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: GitHub: only a primary, verified address counts`, async (t) => {
    const gh = await startGitHub()
    t.teardown(gh.close)
    const app = await buildApp({
      tokenTransport: 'cookie',
      secureCookies: false,
      providers: {
        github: github({
          clientId: gh.clientId,
          clientSecret: gh.clientSecret,
          endpoints: { authorization: `${gh.origin}/login/oauth/authorize`, token: `${gh.origin}/login/oauth/access_token`, api: `${gh.origin}/api` }
        })
      },
      oauth: { callbackBaseUrl: API, allowedRedirects: [APP], storeTokens: true }
    }, {}, dialect)
    t.teardown(() => app.close())
    const signIn = async (login: string) => {
      gh.as(login)
      const started = await app.inject({ url: '/oauth/github' })
      t.equal(started.statusCode, 302)
      const back = await gh.authorize(started.headers.location as string)
      return await app.inject({ url: `${back.pathname}${back.search}` })
    }
    const error = (res: { headers: Record<string, unknown> }) => new URLSearchParams(new URL(String(res.headers.location)).hash.slice(1)).get('error')

    gh.people.set('octo', {
      id: 1001,
      login: 'octo',
      emails: [
        { email: 'octo-secondary@example.com', primary: false, verified: true },
        { email: 'octo@example.com', primary: true, verified: true }
      ]
    })
    const ok = await signIn('octo')
    t.equal(error(ok), null)
    const access = ok.cookies.find((c) => c.name === 'fda_access')!.value
    t.equal((await app.inject({ url: '/me', headers: { cookie: `fda_access=${access}` } })).json().email, 'octo@example.com', 'the primary address')
    t.match(await testDatabase(app).query('select provider, subject from auth_accounts'), [{ provider: 'github', subject: '1001' }], 'the numeric id is the subject')

    gh.people.set('shy', {
      id: 1002,
      login: 'shy',
      emails: [
        { email: 'shy@example.com', primary: true, verified: false },
        { email: 'shy-verified@example.com', primary: false, verified: true }
      ]
    })
    t.equal(error(await signIn('shy')), 'email_unavailable', 'an unverified primary address (a verified secondary one neither) makes no account')

    await registerAndLogin(app, 'taken@example.com')
    await testDatabase(app).query(`update auth_users set is_verified = ${dialect === 'sqlite' ? 1 : 'true'} where email = 'taken@example.com'`)
    gh.people.set('squatter', {
      id: 1003,
      login: 'squatter',
      emails: [
        { email: 'taken@example.com', primary: false, verified: true },
        { email: 'squatter@example.com', primary: true, verified: false }
      ]
    })
    t.equal(error(await signIn('squatter')), 'email_unavailable', 'a verified secondary address never links to its account')
    t.equal((await testDatabase(app).query('select count(*) as n from auth_accounts'))[0].n, dialect === 'sqlite' ? 1 : '1')

    gh.breakNext('/api/user')
    t.equal(error(await signIn('octo')), 'provider_error', 'GitHub failing its /user: provider_error')
    gh.breakNext('/api/user/emails')
    t.equal(error(await signIn('octo')), 'provider_error', 'or its /user/emails')
    gh.people.set('ghost', { id: 0, login: 'ghost', emails: [] })
    t.equal(error(await signIn('ghost')), 'provider_error', 'a /user without an id')
    const [octo] = await testDatabase(app).query("select id from auth_users where email = 'octo@example.com'")
    const kept = await app.authService.getProviderToken(String(octo.id), 'github')
    t.match(kept, { accessToken: /^gho_/, refreshToken: null, expiresAt: null, scope: 'read:user,user:email' }, 'GitHub\'s token kept: it never expires')
  })
}
