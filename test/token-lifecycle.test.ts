import t from 'tap'
import { AuthService } from '../src/index.ts'
import { PASSWORD, SECRET, bearer, buildApp as buildAppOn, login, registerAndLogin, testDatabase } from './fixtures/app.ts'
import { createTestDatabase, availableDialects } from './fixtures/databases.ts'
import { testClock } from './fixtures/clock.ts'

// One suite, run once per dialect the machine has (PostgreSQL is required under CI).
for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    const buildApp = (options: Parameters<typeof buildAppOn>[0] = {}, fastifyOptions: Parameters<typeof buildAppOn>[1] = {}) =>
      buildAppOn(options, fastifyOptions, dialect)

    type App = Awaited<ReturnType<typeof buildApp>>

    async function refresh (app: App, token: string) {
      return app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: token } })
    }

    async function meStatus (app: App, token: string): Promise<number> {
      return (await app.inject({ url: '/me', headers: bearer(token) })).statusCode
    }

    t.test('rotation: every refresh returns a new pair; two logins in the same second get different tokens', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const first = await registerAndLogin(app)
      const [a, b] = await Promise.all([login(app), login(app)])
      const all = [first.accessToken, first.refreshToken, a.accessToken, a.refreshToken, b.accessToken, b.refreshToken]
      t.equal(new Set(all).size, all.length, 'all distinct')
      let current = first
      const seen = new Set(all)
      for (let i = 0; i < 3; i++) {
        const res = await refresh(app, current.refreshToken)
        t.equal(res.statusCode, 200)
        const next = { accessToken: res.json().access_token, refreshToken: res.json().refresh_token }
        t.notOk(seen.has(next.accessToken) || seen.has(next.refreshToken), `generation ${i + 1} is new`)
        seen.add(next.accessToken); seen.add(next.refreshToken)
        t.equal(await meStatus(app, next.accessToken), 200)
        current = next
      }
    })

    t.test('reuse detection: R0 after R0->R1->R2->R3 is 401 and revokes the whole session, not the others', async (t) => {
      const lines: string[] = []
      const app = await buildApp({}, { logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
      t.teardown(() => app.close())
      const reused: unknown[] = []
      const r0 = await registerAndLogin(app)
      app.authService.on('refresh_token_reused', (payload) => { reused.push(payload) })
      const other = await login(app)
      const chain = [r0]
      for (let i = 0; i < 3; i++) {
        const res = (await refresh(app, chain[i].refreshToken)).json()
        chain.push({ accessToken: res.access_token, refreshToken: res.refresh_token })
      }
      const r3 = chain[3]
      t.equal(await meStatus(app, r3.accessToken), 200)
      const replay = await refresh(app, r0.refreshToken)
      t.equal(replay.statusCode, 401)
      t.equal(replay.json().code, 'token_revoked')
      t.equal(await meStatus(app, r3.accessToken), 401, 'the newest access token died with the session')
      t.equal((await refresh(app, r3.refreshToken)).statusCode, 401, 'and so did R3')
      t.equal(await meStatus(app, other.accessToken), 200, 'the same user\'s other session is untouched')
      t.equal((await refresh(app, other.refreshToken)).statusCode, 200)
      t.equal(reused.length, 1, 'refresh_token_reused emitted')
      t.match(reused[0], { userId: String, sessionId: String })
      t.ok(lines.some((line) => /refresh token reuse detected/.test(line)), 'and logged')
    })

    t.test('concurrent refresh: 20 parallel uses of one token give exactly one 200, the rest 409, no revocation', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const { refreshToken } = await registerAndLogin(app)
      const results = await Promise.all(Array.from({ length: 20 }, () => refresh(app, refreshToken)))
      const statuses = results.map((r) => r.statusCode)
      t.equal(statuses.filter((s) => s === 200).length, 1, 'exactly one 200')
      t.equal(statuses.filter((s) => s === 409).length, 19, 'the others are 409 inside the grace window')
      t.notOk(statuses.some((s) => s >= 500), 'no 5xx')
      for (const r of results.filter((r) => r.statusCode === 409)) t.equal(r.json().code, 'refresh_in_progress')
      const winner = results.find((r) => r.statusCode === 200)!.json()
      t.equal(await meStatus(app, winner.access_token), 200, 'the session was not revoked')
      t.equal((await refresh(app, winner.refresh_token)).statusCode, 200, 'the one child keeps working')
    })

    t.test('concurrent refresh through the service: never two valid children', async (t) => {
      const db = await createTestDatabase(dialect)
      const auth = new AuthService({ database: db.database, secret: SECRET, bcryptRounds: 4, refreshReuseGraceSeconds: 0 })
      t.teardown(async () => { await auth.close(); await db.close() })
      await auth.register('race@example.com', PASSWORD)
      const { refreshToken } = await auth.login('race@example.com', PASSWORD)
      const settled = await Promise.allSettled(Array.from({ length: 20 }, () => auth.refresh(refreshToken)))
      const children = settled.filter((s) => s.status === 'fulfilled')
      t.equal(children.length, 1, 'one child')
      t.ok(settled.every((s) => s.status === 'fulfilled' || (s.reason as { statusCode: number }).statusCode === 401), 'the rest 401 without a grace window')
    })

    t.test('grace window: only the previous generation, only within the window; afterwards it is reuse', async (t) => {
      const clock = testClock()
      const app = await buildApp({ refreshReuseGraceSeconds: 1, clock: clock.now })
      t.teardown(() => app.close())
      const r0 = await registerAndLogin(app)
      const r1 = (await refresh(app, r0.refreshToken)).json()
      const r2 = (await refresh(app, r1.refresh_token)).json()
      t.equal((await refresh(app, r1.refresh_token)).statusCode, 409, 'R1 (previous generation) within the window: 409')
      t.equal(await meStatus(app, r2.access_token), 200, 'no revocation')
      const grandparent = await refresh(app, r0.refreshToken)
      t.equal(grandparent.statusCode, 401, 'R0 (two generations back) is reuse even within the window')
      t.equal(await meStatus(app, r2.access_token), 401, 'and the session is revoked')

      const s0 = await login(app)
      const s1 = (await refresh(app, s0.refreshToken)).json()
      clock.advance(1200)
      t.equal((await refresh(app, s0.refreshToken)).statusCode, 401, 'after the window the parent is reuse')
      t.equal(await meStatus(app, s1.access_token), 401, 'and revokes the session')
    })

    const FAULT = {
      sqlite: [`create trigger fail_rotation before insert on auth_refresh_tokens when new.generation > 0
        begin select raise(abort, 'disk I/O error (injected)'); end`],
      postgresql: [`create function fail_rotation() returns trigger language plpgsql as $$
        begin if new.generation > 0 then raise exception 'disk I/O error (injected)'; end if; return new; end $$`,
      'create trigger fail_rotation before insert on auth_refresh_tokens for each row execute function fail_rotation()']
    }
    const FAULT_CLEARED = { sqlite: ['drop trigger fail_rotation'], postgresql: ['drop trigger fail_rotation on auth_refresh_tokens'] }

    t.test('crash mid-rotation: nothing half-done is visible, no unstored refresh token is returned', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const db = testDatabase(app)
      const { accessToken, refreshToken } = await registerAndLogin(app)
      // A real fault inside the rotation transaction: storing the next token fails after the old one was consumed.
      for (const statement of FAULT[db.dialect]) await db.query(statement)
      const snapshot = 'select token_hash, used_at from auth_refresh_tokens order by token_hash'
      const before = await db.query(snapshot)
      const crashed = await refresh(app, refreshToken)
      t.equal(crashed.statusCode, 503)
      t.same(Object.keys(crashed.json()).sort(), ['code', 'detail'], 'no token in the body')
      t.notMatch(crashed.body, /refresh_token|access_token|insert|auth_refresh_tokens/i, 'no token, no SQL')
      t.same(await db.query(snapshot), before, 'the consumption was rolled back')
      t.equal(await meStatus(app, accessToken), 200, 'the session is intact')
      for (const statement of FAULT_CLEARED[db.dialect]) await db.query(statement)
      t.equal((await refresh(app, refreshToken)).statusCode, 200, 'the same refresh token works once the fault is gone')
    })

    t.test('logout revokes the session; a second logout is 200; logoutAll ends every session of one user only', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const a = await registerAndLogin(app)
      const bob = await registerAndLogin(app, 'bob@example.com')
      t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(a.accessToken) })).statusCode, 200)
      t.equal(await meStatus(app, a.accessToken), 401)
      t.equal((await refresh(app, a.refreshToken)).statusCode, 401)
      t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(a.accessToken) })).statusCode, 200)

      const sessions = await Promise.all([login(app), login(app), login(app)])
      const userId = (await app.authService.authenticate(sessions[0].accessToken)).id
      t.equal(await app.authService.logoutAll(userId), 3)
      for (const s of sessions) {
        t.equal(await meStatus(app, s.accessToken), 401)
        t.equal((await refresh(app, s.refreshToken)).statusCode, 401)
      }
      t.equal(await meStatus(app, bob.accessToken), 200, 'another user is untouched')
    })

    t.test('password change: POST /password keeps the current session and revokes the others', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const current = await registerAndLogin(app)
      const other = await login(app)
      const bob = await registerAndLogin(app, 'bob@example.com')
      const change = (token: string, body: object) => app.inject({ method: 'POST', url: '/password', headers: bearer(token), payload: body })

      const wrong = await change(current.accessToken, { current_password: 'Not-The-Password-1', new_password: 'Brand-New-Secret-42' })
      t.equal(wrong.statusCode, 403)
      t.same(wrong.json(), { detail: 'Current password is incorrect', code: 'invalid_current_password' })
      const weak = await change(current.accessToken, { current_password: PASSWORD, new_password: '12345678' })
      t.equal(weak.statusCode, 422)
      t.equal(weak.json().code, 'invalid_password')
      t.equal(await meStatus(app, other.accessToken), 200, 'failed changes revoke nothing')
      t.equal((await app.inject({ method: 'POST', url: '/password', payload: {} })).statusCode, 401, 'anonymous: guard 401')

      const ok = await change(current.accessToken, { current_password: PASSWORD, new_password: 'Brand-New-Secret-42' })
      t.equal(ok.statusCode, 200)
      t.same(ok.json(), { detail: 'Password changed' })
      t.equal(await meStatus(app, current.accessToken), 200, 'the current session stays')
      t.equal(await meStatus(app, other.accessToken), 401, 'the other session is revoked')
      t.equal((await refresh(app, other.refreshToken)).statusCode, 401)
      t.equal(await meStatus(app, bob.accessToken), 200, 'other users untouched')
      await t.rejects(login(app, 'alice@example.com', PASSWORD), 'the old password no longer works')
      t.ok(await login(app, 'alice@example.com', 'Brand-New-Secret-42'))
    })

    t.test('setPassword from the service revokes every session; deactivate kills tokens on the next request', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const a = await registerAndLogin(app)
      const user = await app.authService.authenticate(a.accessToken)
      await app.authService.setPassword(user, 'Brand-New-Secret-42')
      t.equal(await meStatus(app, a.accessToken), 401)
      const b = await login(app, 'alice@example.com', 'Brand-New-Secret-42')
      await app.authService.deactivate(user.id)
      t.equal(await meStatus(app, b.accessToken), 401)
      t.equal((await refresh(app, b.refreshToken)).statusCode, 401)
    })

    t.test('purgeExpired removes ended sessions with all their refresh tokens, keeps a live session\'s used ones, and says how many rows', async (t) => {
      const db = await createTestDatabase(dialect)
      const clock = testClock()
      const auth = new AuthService({ database: db.database, secret: SECRET, bcryptRounds: 4, refreshTokenTtl: 1, refreshReuseGraceSeconds: 0, clock: clock.now })
      t.teardown(async () => { await auth.close(); await db.close() })
      await auth.register('purge@example.com', PASSWORD)
      const live = await auth.login('purge@example.com', PASSWORD)
      await auth.refresh(live.refreshToken)
      t.equal(await auth.purgeExpired(), 0, 'the used token of the live session stays, to recognise a replay')
      const revoked = await auth.login('purge@example.com', PASSWORD)
      await auth.logout(revoked.accessToken)
      t.equal(await auth.purgeExpired(), 2, 'the revoked session and its token')
      clock.advance(1100)
      t.equal(await auth.purgeExpired(), 3, 'the expired session, its used token and its current one')
      t.equal(await auth.purgeExpired(), 0, 'nothing left')
    })
  })
}
