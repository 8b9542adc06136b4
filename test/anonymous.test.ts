import t from 'tap'
import { AnonymousUser } from '../src/index.ts'
import { bearer, buildApp, registerAndLogin } from './fixtures/app.ts'

t.test('AnonymousUser: not authenticated, anonymous, empty display name', async (t) => {
  const anonymous = new AnonymousUser()
  t.equal(anonymous.isAuthenticated, false)
  t.equal(anonymous.isAnonymous, true)
  t.equal(anonymous.displayName, '')
  t.notOk('email' in anonymous, 'no email on an anonymous user')
})

t.test('a real user: authenticated, not anonymous, display name is the email', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  app.get('/flags', async (request) => ({
    isAuthenticated: request.user.isAuthenticated,
    isAnonymous: request.user.isAnonymous,
    displayName: request.user.displayName
  }))
  const { accessToken } = await registerAndLogin(app, 'Dana@Example.com')
  const user = await app.authService.authenticate(accessToken)
  t.equal(user.isAuthenticated, true)
  t.equal(user.isAnonymous, false)
  t.equal(user.displayName, 'dana@example.com')
  t.same((await app.inject({ url: '/flags', headers: bearer(accessToken) })).json(),
    { isAuthenticated: true, isAnonymous: false, displayName: 'dana@example.com' })
  t.same((await app.inject({ url: '/flags' })).json(), { isAuthenticated: false, isAnonymous: true, displayName: '' })
})
