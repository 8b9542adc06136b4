import t from 'tap'
import {
  AuthService, AuthenticationError, ConflictError, InvalidEmailError, InvalidPasswordError, TokenExpiredError, TokenInvalidError,
  TokenRevokedError, type AuthEvents
} from '../src/index.ts'
import { AccessTokenCodec } from '../src/service/tokens.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'
import { testClock } from './fixtures/clock.ts'

function service (extra = {}) {
  return new AuthService({ database: ':memory:', secret: SECRET, bcryptRounds: 4, ...extra })
}

t.test('works without Fastify: register, login, authenticate, refresh, logout', async (t) => {
  const auth = service()
  t.teardown(() => auth.close())
  const user = await auth.register('Carol@Example.com', PASSWORD)
  t.equal(user.email, 'carol@example.com')
  const result = await auth.login('carol@example.com', PASSWORD, { ip: '10.0.0.1', userAgent: 'test', claims: { plan: 'pro', sub: 'evil' } })
  t.equal(result.user.id, user.id)
  t.equal(result.tokens.accessToken, result.accessToken)
  t.equal(result.tokens.refreshToken, result.refreshToken)
  t.equal(result.tokenType, 'bearer')
  t.equal(result.expiresIn, 900)
  t.ok(result.user.lastLogin instanceof Date, 'login stamps lastLogin')
  t.notOk('passwordHash' in result.user)

  const me = await auth.authenticate(result.accessToken)
  t.equal(me.id, user.id)
  const verified = await auth.verifyAccessToken(result.accessToken)
  t.equal(verified.claims.plan, 'pro', 'extra claims travel in the token')
  t.equal(verified.claims.sub, user.id, 'reserved claims cannot be overridden')

  const next = await auth.refresh(result.refreshToken)
  t.not(next.accessToken, result.accessToken)
  t.not(next.refreshToken, result.refreshToken)
  await t.rejects(auth.refresh('A'.repeat(43)), TokenInvalidError, 'an unknown refresh token')

  await auth.logout(next.accessToken)
  await t.rejects(auth.authenticate(next.accessToken), TokenRevokedError, 'the access token died with its session')
  await t.rejects(auth.refresh(next.refreshToken), TokenRevokedError, 'and so did the refresh token')
})

t.test('login fails with the same AuthenticationError for unknown, inactive and wrong password', async (t) => {
  const auth = service()
  t.teardown(() => auth.close())
  const user = await auth.register('dave@example.com', PASSWORD)
  await auth.register('erin@example.com', PASSWORD)
  await auth.deactivate(user.id)
  const attempts: Array<[string, string]> = [
    ['nobody@example.com', PASSWORD], ['dave@example.com', PASSWORD], ['erin@example.com', 'Wrong-Password-42']
  ]
  for (const [email, password] of attempts) {
    const err = await auth.login(email, password).then(() => null, (e: unknown) => e)
    t.ok(err instanceof AuthenticationError)
    t.equal((err as AuthenticationError).message, 'Invalid credentials')
    t.equal((err as AuthenticationError).code, 'invalid_credentials')
  }
  await auth.activate(user.id)
  t.ok(await auth.login('dave@example.com', PASSWORD), 'activate lets the user back in')
})

t.test('register raises InvalidPasswordError and ConflictError; fields cannot overwrite protected columns', async (t) => {
  const auth = service()
  t.teardown(() => auth.close())
  await t.rejects(auth.register('f@example.com', 'short'), InvalidPasswordError)
  const user = await auth.register('f@example.com', PASSWORD, { isVerified: true, id: 'chosen', passwordHash: 'x', email: 'other@example.com' } as never)
  t.equal(user.isVerified, true, 'a regular column is set')
  t.not(user.id, 'chosen')
  t.equal(user.email, 'f@example.com')
  t.ok(await auth.checkPassword(user, PASSWORD), 'the password hash is the real one')
  const dup = await auth.register('F@example.com', PASSWORD).then(() => null, (e: unknown) => e)
  t.ok(dup instanceof ConflictError)
  t.equal((dup as ConflictError).code, 'email_taken')
  t.equal((dup as ConflictError).statusCode, 409)
})

t.test('authenticate raises the token errors', async (t) => {
  const clock = testClock()
  const auth = service({ accessTokenTtl: 1, clockSkewSeconds: 0, clock: clock.now })
  t.teardown(() => auth.close())
  await auth.register('g@example.com', PASSWORD)
  const { accessToken } = await auth.login('g@example.com', PASSWORD)
  await t.rejects(auth.authenticate('garbage'), TokenInvalidError)
  t.ok(await auth.authenticate(accessToken), 'verified once (and remembered)')
  clock.advance(900)
  t.ok(await auth.authenticate(accessToken), 'still valid within its second')
  clock.advance(1200)
  await t.rejects(auth.authenticate(accessToken), TokenExpiredError, 'a remembered token still expires')
  await t.rejects(auth.authenticate(accessToken), TokenExpiredError, 'and is forgotten, then refused by the full check too')
})

t.test('logout never throws, logoutAll ends every session, setPassword and checkPassword', async (t) => {
  const auth = service()
  t.teardown(() => auth.close())
  await t.resolves(auth.logout('garbage'))
  await t.resolves(auth.logout(''))
  const user = await auth.register('h@example.com', PASSWORD)
  const a = await auth.login('h@example.com', PASSWORD)
  const b = await auth.login('h@example.com', PASSWORD)
  await auth.logout(a.refreshToken)
  await t.rejects(auth.authenticate(a.accessToken), TokenRevokedError, 'logout by refresh token ends the session too')
  t.equal(await auth.logoutAll(user.id), 1)
  await t.rejects(auth.authenticate(b.accessToken), TokenRevokedError)

  t.equal(await auth.checkPassword(user, PASSWORD), true)
  t.equal(await auth.checkPassword(user.id, 'nope-nope-nope'), false)
  await auth.setPassword(user.id, 'Another-Strong-Pass-7')
  t.equal(await auth.checkPassword(user, 'Another-Strong-Pass-7'), true)
  t.equal(await auth.checkPassword(user, PASSWORD), false)
  await t.rejects(auth.setPassword('no-such-user', PASSWORD), AuthenticationError)
  t.equal(await auth.getUser('no-such-user'), undefined)
})

t.test('events: user_login, user_login_failed with reason, user_logout, password_changed; a failing listener is logged', async (t) => {
  const logged: unknown[] = []
  const logger = { warn () {}, error (obj: object) { logged.push(obj) } }
  const auth = service({ logger })
  t.teardown(() => auth.close())
  const seen: Array<[string, unknown]> = []
  const record = <E extends keyof AuthEvents>(event: E) => auth.on(event, (payload) => { seen.push([event, payload]) })
  record('user_login'); record('user_login_failed'); record('user_logout'); record('password_changed'); record('user_registered')
  auth.on('user_login', () => { throw new Error('listener bug') })
  auth.on('user_login', async () => { throw new Error('async listener bug') })

  const user = await auth.register('i@example.com', PASSWORD)
  const other = await auth.register('j@example.com', PASSWORD)
  await auth.deactivate(other.id)
  const { accessToken } = await auth.login('i@example.com', PASSWORD, { ip: '1.2.3.4' })
  await auth.login('missing@example.com', PASSWORD).catch(() => {})
  await auth.login('j@example.com', PASSWORD).catch(() => {})
  await auth.login('i@example.com', 'Wrong-Password-42').catch(() => {})
  await auth.logout(accessToken)
  await auth.setPassword(user, 'Another-Strong-Pass-7')
  await new Promise((resolve) => setImmediate(resolve))

  const names = seen.map(([name]) => name)
  t.same(names, ['user_registered', 'user_registered', 'user_login', 'user_login_failed', 'user_login_failed', 'user_login_failed', 'user_logout', 'password_changed'])
  t.same(seen.filter(([n]) => n === 'user_login_failed').map(([, p]) => (p as { reason: string }).reason), ['not_found', 'inactive', 'bad_password'])
  t.match(seen[2][1], { user: { email: 'i@example.com' }, ip: '1.2.3.4' })
  t.match(seen[6][1], { userId: user.id })
  t.equal(logged.length, 2, 'both failing listeners were logged')
  t.notMatch(JSON.stringify(seen), /Correct-Horse|\$2[aby]\$/, 'no password or hash in any payload')

  const off = auth.on('password_changed', () => { throw new Error('unreachable') })
  off()
  await auth.setPassword(user, 'Third-Strong-Pass-8')
  t.equal(logged.length, 2, 'an unsubscribed listener is not called')
})

t.test('input limits: an oversized token is invalid; an email that NFKC expands past 254 characters is refused', async (t) => {
  const auth = service()
  t.teardown(() => auth.close())
  await t.rejects(auth.authenticate('a'.repeat(5000)), TokenInvalidError)
  const expanding = `${'\uFB03'.repeat(90)}@example.com` // each ligature becomes "ffi"
  t.ok(expanding.length <= 254)
  const err = await auth.register(expanding, PASSWORD).then(() => null, (e: unknown) => e)
  t.ok(err instanceof InvalidEmailError)
  t.match((err as Error).message, /at most 254/)
  t.equal((err as InvalidEmailError).statusCode, 422)
  await t.rejects(auth.register(42 as never, PASSWORD), InvalidEmailError)
})

t.test('a live token fails once its session expires, or once the user is made inactive behind the service', async (t) => {
  const clock = testClock()
  const auth = service({ refreshTokenTtl: 1, clock: clock.now })
  t.teardown(() => auth.close())
  const user = await auth.register('k@example.com', PASSWORD)
  const { accessToken } = await auth.login('k@example.com', PASSWORD)
  t.ok(await auth.authenticate(accessToken), 'live while its session is')
  clock.advance(1100)
  await t.rejects(auth.authenticate(accessToken), TokenExpiredError, 'the access token is fresh, its session is not')

  const other = await auth.login('k@example.com', PASSWORD)
  await auth.store.users.update(user.id, { isActive: false }, new Date()) // an admin tool flipping the flag directly
  const err = await auth.authenticate(other.accessToken).then(() => null, (e: unknown) => e)
  t.ok(err instanceof AuthenticationError)
  t.equal((err as AuthenticationError).code, 'inactive_account')
})

t.test('the service refuses control characters in an email itself, not only the routes', async (t) => {
  const auth = service()
  t.teardown(() => auth.close())
  await t.rejects(auth.register('a\n@example.com', PASSWORD), InvalidEmailError)
})

t.test('the verified-token memory is bounded and never replaces the signature check for a new string', async (t) => {
  const codec = new AccessTokenCodec({ secret: Buffer.from(SECRET), algorithm: 'HS256', issuer: undefined, audience: undefined, accessTokenTtl: 60, clockSkewSeconds: 0, clock: Date.now })
  const first = codec.sign('user', 'session')
  t.equal(codec.verify(first).sub, 'user')
  for (let i = 0; i < 10_001; i++) codec.verify(codec.sign('user', `s${i}`))
  // 4,999 kept; the 5,000th lookup sees no hit in 5,000, so of the 5,003 offered after it 1 in 16 is kept (312).
  t.equal(codec.rememberedTokens, 5_311, 'after 10,002 distinct tokens, all missing: 5,311 remembered, never over 10,000')
  t.equal(codec.verify(first).sid, 'session')
  t.throws(() => codec.verify(`${first.slice(0, -2)}AA`), TokenInvalidError, 'a different string is verified on its own')
  t.ok(Object.isFrozen(codec.verify(first)), 'shared claims cannot be changed by a caller')
})
