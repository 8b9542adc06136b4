/**
 * A login that read the user before a password change or a deactivation committed must not
 * create its session afterwards; a refresh of an inactive user's session is refused.
 */
import t from 'tap'
import { PASSWORD, bearer, buildApp, login, registerAndLogin, testDatabase } from './fixtures/app.ts'
import { holdBcrypt } from './fixtures/bcrypt-hold.ts'
import { availableDialects } from './fixtures/databases.ts'

const WRONG_PASSWORD_BODY = { detail: 'Invalid credentials', code: 'invalid_credentials' }

for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    const sessionsOf = async (app: Awaited<ReturnType<typeof buildApp>>, userId: string) =>
      Number((await testDatabase(app).query(`select count(*) as n from auth_sessions where user_id = '${userId}'`))[0].n)

    for (const change of ['password change', 'deactivation'] as const) {
      t.test(`a login whose comparison straddles a ${change} fails like a wrong password and leaves no session`, async (t) => {
        const app = await buildApp({}, {}, dialect)
        t.teardown(() => app.close())
        const user = await app.authService.register('alice@example.com', PASSWORD)
        const bcrypt = holdBcrypt(t)
        bcrypt.hold('compare')
        const pending = app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
        await bcrypt.held(1)
        if (change === 'password change') await app.authService.setPassword(user.id, 'Another-Strong-Pass-7')
        else await app.authService.deactivate(user.id)
        bcrypt.release()
        const res = await pending
        t.equal(res.statusCode, 401)
        t.same(res.json(), WRONG_PASSWORD_BODY, 'the same answer as a wrong password')
        t.equal(await sessionsOf(app, user.id), 0, 'no session row was written')
        t.same(await testDatabase(app).query('select count(*) as n from auth_device_tokens'), [{ n: dialect === 'sqlite' ? 0 : '0' }],
          'nor a device token')
        if (change === 'deactivation') {
          await app.authService.activate(user.id)
          t.equal(await sessionsOf(app, user.id), 0, 'activating again brings nothing back')
        }
      })
    }

    t.test('a login that completes before the change is revoked by it', async (t) => {
      const app = await buildApp({}, {}, dialect)
      t.teardown(() => app.close())
      const session = await registerAndLogin(app)
      const user = (await app.inject({ url: '/me', headers: bearer(session.accessToken) })).json()
      await app.authService.deactivate(user.id)
      t.equal((await app.inject({ url: '/me', headers: bearer(session.accessToken) })).statusCode, 401)
      await app.authService.activate(user.id)
      t.equal((await app.inject({ url: '/me', headers: bearer(session.accessToken) })).statusCode, 401, 'still revoked after activate()')
      const refreshed = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: session.refreshToken } })
      t.equal(refreshed.statusCode, 401)
    })

    t.test('refresh is refused while the user is inactive (set outside the service), and nothing is rotated', async (t) => {
      const app = await buildApp({}, {}, dialect)
      t.teardown(() => app.close())
      const session = await registerAndLogin(app)
      const db = testDatabase(app)
      await db.query(`update auth_users set is_active = ${dialect === 'sqlite' ? 0 : 'false'}`)
      const res = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: session.refreshToken } })
      t.equal(res.statusCode, 401)
      t.same(res.json(), { detail: 'The account is inactive', code: 'token_revoked' })
      const tokens = await db.query('select generation, used_at from auth_refresh_tokens')
      t.equal(tokens.length, 1, 'no new refresh token')
      t.equal(tokens[0].used_at, null, 'the presented one was not consumed')
      await db.query(`update auth_users set is_active = ${dialect === 'sqlite' ? 1 : 'true'}`)
      const again = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: session.refreshToken } })
      t.equal(again.statusCode, 200, 'not treated as reuse: the token still works once the account is active')
      t.ok(await login(app), 'and the account logs in')
    })
  })
}

t.test('a login opens its session, settling its counts, while it still holds its hashing slot', async (t) => {
  const { AuthService } = await import('../src/index.ts')
  const { sqliteStore } = await import('../src/db/sqlite/index.ts')
  const { CountingStore } = await import('./fixtures/counting-store.ts')
  const { SECRET } = await import('./fixtures/app.ts')
  const store = new CountingStore(sqliteStore(':memory:'))
  const service = new AuthService({ store, secret: SECRET, bcryptRounds: 4, hashConcurrency: 2, loginRateLimit: { maxAttemptsPerEmail: 2 } })
  t.teardown(() => service.close())
  await service.register('slot@example.com', PASSWORD)
  const heldWhileCreating: number[] = []
  const create = store.inner('sessions').create.bind(store.inner('sessions'))
  store.override('sessions', 'create', async (...args: Parameters<typeof create>) => {
    heldWhileCreating.push(service.hashQueue.running)
    // Held back past a turn, so a login that released its slot first would let the next ones count meanwhile.
    await new Promise(setImmediate)
    return create(...args)
  })
  // With the slots released before the session is made, the third of these would find two counted, unsettled
  // attempts for the email and be refused (limit 2).
  const results = await Promise.allSettled(Array.from({ length: 6 }, async () => service.login('slot@example.com', PASSWORD, { ip: '203.0.113.7' })))
  t.same(results.map((r) => r.status), Array(6).fill('fulfilled'), 'six concurrent correct logins all get in')
  t.equal(heldWhileCreating.length, 6)
  t.ok(heldWhileCreating.every((running) => running >= 1), 'each session was made while its login held a slot')
})
