/**
 * Where a user is signed in: the live sessions listed (newest first, never a token), one other session ended,
 * every other session ended; another user's or an unknown session answered exactly like each other.
 */
import t from 'tap'
import { PASSWORD, bearer, buildApp, registerAndLogin, testDatabase } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'

type App = Awaited<ReturnType<typeof buildApp>>

async function loginFrom (app: App, agent: string, email = 'alice@example.com') {
  const res = await app.inject({ method: 'POST', url: '/login', headers: { 'user-agent': agent }, payload: { email, password: PASSWORD } })
  t.equal(res.statusCode, 200)
  return res.json().access_token as string
}

const list = async (app: App, token: string) => app.inject({ url: '/sessions', headers: bearer(token) })

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: GET /sessions lists the live sessions, newest first, the current one marked, no secret`, async (t) => {
    const app = await buildApp({}, {}, dialect)
    t.teardown(() => app.close())
    const first = await registerAndLogin(app)
    const phone = await loginFrom(app, 'Phone/1.0')
    const laptop = await loginFrom(app, `Laptop/2.0 ${'x'.repeat(2000)}`)
    await registerAndLogin(app, 'bob@example.com')
    t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(first.accessToken) })).statusCode, 200)

    const res = await list(app, phone)
    t.equal(res.statusCode, 200)
    const sessions = res.json() as Array<Record<string, unknown>>
    t.equal(sessions.length, 2, 'the logged-out session and bob\'s are not listed')
    t.same(sessions.map((s) => s.current), [false, true], 'newest first; the phone is the one asking')
    t.match(sessions[1], { user_agent: 'Phone/1.0', ip: '127.0.0.1', method: 'password', current: true })
    t.equal((sessions[0].user_agent as string).length, 512, 'a long user agent is cut')
    t.same(Object.keys(sessions[0]).sort(), ['created_at', 'current', 'expires_at', 'id', 'ip', 'last_used_at', 'method', 'user_agent'])
    for (const s of sessions) t.ok(Date.parse(s.expires_at as string) > Date.parse(s.created_at as string))
    t.notMatch(res.body, new RegExp(`${phone.split('.')[2]}|${laptop.split('.')[2]}|token|hash`), 'no token or hash in the answer')
    t.equal((await app.inject({ url: '/sessions' })).statusCode, 401, 'signed in only')
  })

  t.test(`${dialect}: DELETE /sessions/:id ends one other session; another user's and an unknown one are the same 404`, async (t) => {
    const app = await buildApp({}, {}, dialect)
    t.teardown(() => app.close())
    const { accessToken: mine } = await registerAndLogin(app)
    const other = await loginFrom(app, 'Other')
    const bob = await registerAndLogin(app, 'bob@example.com')
    const events: unknown[] = []
    app.authService.on('session_revoked', (event) => { events.push(event) })
    const [otherSession, mineSession] = (await list(app, mine)).json() as Array<{ id: string }>
    const [bobSession] = (await list(app, bob.accessToken)).json() as Array<{ id: string }>

    const foreign = await app.inject({ method: 'DELETE', url: `/sessions/${bobSession.id}`, headers: bearer(mine) })
    const unknown = await app.inject({ method: 'DELETE', url: '/sessions/no-such-session', headers: bearer(mine) })
    t.equal(foreign.statusCode, 404)
    t.equal(foreign.body, unknown.body, 'one answer: whose the session is stays unknown')
    t.same(foreign.json(), { detail: 'No such session: list yours with GET /sessions', code: 'session_not_found' })
    t.equal((await app.inject({ url: '/me', headers: bearer(bob.accessToken) })).statusCode, 200, 'bob\'s session is untouched')

    const current = await app.inject({ method: 'DELETE', url: `/sessions/${mineSession.id}`, headers: bearer(mine) })
    t.equal(current.statusCode, 400)
    t.equal(current.json().code, 'use_logout')

    t.equal((await app.inject({ url: '/me', headers: bearer(other) })).statusCode, 200)
    const ended = await app.inject({ method: 'DELETE', url: `/sessions/${otherSession.id}`, headers: bearer(mine) })
    t.equal(ended.statusCode, 204)
    t.equal(ended.body, '')
    t.equal((await app.inject({ url: '/me', headers: bearer(other) })).statusCode, 401, 'its token is refused on the next request')
    const again = await app.inject({ method: 'DELETE', url: `/sessions/${otherSession.id}`, headers: bearer(mine) })
    t.equal(again.statusCode, 404, 'an ended session is not found')
    t.match(events, [{ sessionId: otherSession.id, count: 1 }])
    t.equal((await app.inject({ method: 'DELETE', url: `/sessions/${otherSession.id}` })).statusCode, 401, 'signed in only')
  })

  t.test(`${dialect}: DELETE /sessions ends every other session and keeps this one`, async (t) => {
    const app = await buildApp({}, {}, dialect)
    t.teardown(() => app.close())
    const { accessToken: mine } = await registerAndLogin(app)
    const others = [await loginFrom(app, 'A'), await loginFrom(app, 'B')]
    const bob = await registerAndLogin(app, 'bob@example.com')
    const events: unknown[] = []
    app.authService.on('session_revoked', (event) => { events.push(event) })
    const res = await app.inject({ method: 'DELETE', url: '/sessions', headers: bearer(mine) })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { revoked: 2 })
    for (const token of others) t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 401)
    t.equal((await app.inject({ url: '/me', headers: bearer(mine) })).statusCode, 200, 'this session goes on')
    t.equal((await app.inject({ url: '/me', headers: bearer(bob.accessToken) })).statusCode, 200, 'another user is untouched')
    t.same((await list(app, mine)).json().map((s: { current: boolean }) => s.current), [true])
    t.same((await app.inject({ method: 'DELETE', url: '/sessions', headers: bearer(mine) })).json(), { revoked: 0 })
    t.match(events, [{ sessionId: null, count: 2 }], 'one event for the two ended, none when nothing ended')
    t.equal(events.length, 1)
  })

  t.test(`${dialect}: at most 100 sessions are listed`, async (t) => {
    const app = await buildApp({}, {}, dialect)
    t.teardown(() => app.close())
    const { accessToken } = await registerAndLogin(app)
    const db = testDatabase(app)
    const userId = (await app.inject({ url: '/me', headers: bearer(accessToken) })).json().id
    const at = (ms: number) => dialect === 'sqlite' ? String(ms) : `to_timestamp(${ms / 1000})`
    const now = Date.now()
    const rows = Array.from({ length: 120 }, (_, i) => `('bulk-${i}', '${userId}', ${at(now - 1000 * (i + 1))}, ${at(now)}, ${at(now + 3_600_000)})`)
    await db.query(`insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at) values ${rows.join(', ')}`)
    const listed = (await list(app, accessToken)).json() as Array<{ id: string, current: boolean }>
    t.equal(listed.length, 100)
    t.equal(listed[0].current, true, 'the newest (this login) first')
    t.equal(listed[99].id, 'bulk-98', 'then the bulk ones, newest first')
  })
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: a refresh moves the session's last use and address; sessionIdleTimeoutSeconds refuses an idle one`, async (t) => {
    let now = Date.now()
    const app = await buildApp({ sessionIdleTimeoutSeconds: 3600, clock: () => now }, {}, dialect)
    t.teardown(() => app.close())
    await registerAndLogin(app)
    const login = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
    let refreshToken = login.json().refresh_token as string
    const refresh = async (from = '127.0.0.1') => app.inject({ method: 'POST', url: '/refresh', remoteAddress: from, payload: { refresh_token: refreshToken } })

    now += 3599_000
    const fresh = await refresh('10.0.0.9')
    t.equal(fresh.statusCode, 200, 'refreshed within the idle timeout')
    refreshToken = fresh.json().refresh_token
    const listed = ((await list(app, fresh.json().access_token)).json() as Array<{ ip: string, last_used_at: string, current: boolean }>).find((s) => s.current)
    t.match(listed, { current: true, ip: '10.0.0.9', last_used_at: new Date(now).toISOString() }, 'the latest address and use')

    now += 3600_000
    const idle = await refresh()
    t.equal(idle.statusCode, 401, 'idle for the whole timeout: refused')
    t.same(idle.json(), { detail: 'Session has expired: it was idle too long', code: 'token_expired' })
    t.equal((await refresh()).statusCode, 401, 'and stays refused')
  })
}

t.test('AuthService: the session list from a script', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await registerAndLogin(app)
  const service = app.authService
  const { id } = (await service.getUser((await service.login('alice@example.com', PASSWORD)).user.id))!
  const sessions = await service.listSessions(id)
  t.equal(sessions.length, 2)
  t.same(sessions.map((s) => s.current), [false, false], 'no current session named: none is current')
  for (const bad of ['', 42, undefined]) await t.rejects(service.revokeSession(id, bad as never), { code: 'session_not_found' }, String(bad))
  t.equal(await service.revokeOtherSessions(id, null), 2, 'without a current session: every session ends')
  t.same(await service.listSessions(id), [])
})
