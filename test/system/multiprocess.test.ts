import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../fixtures/temp.ts'
import { plainRequest } from '../fixtures/http-client.ts'
import { startServer } from '../fixtures/server-process.ts'

const PASSWORD = 'Shared-File-Pass-42'

t.test('two Fastify processes share one SQLite file: concurrent logins and refreshes, no SQLITE_BUSY', async (t) => {
  const dir = tempDir(t, 'fda-multi-')
  const env = { DATABASE_PATH: join(dir, 'shared.sqlite'), AUTH_SECRET: 'shared-secret-for-both-processes-32b', PORT: '0', LOG_LEVEL: 'info' }
  // Both start at once on a new file, so both run the migrations at the same moment too.
  const [a, b] = await Promise.all([startServer(env), startServer(env)])
  t.teardown(async () => { await a.stop(); await b.stop() })
  const servers = [a, b]
  const call = async (i: number, path: string, body?: object, token?: string) => {
    const res = await plainRequest(`${servers[i % 2].url}${path}`, body === undefined ? 'GET' : 'POST', body, token === undefined ? {} : { authorization: `Bearer ${token}` })
    return { status: res.status, body: res.body }
  }

  const registrations = await Promise.all(Array.from({ length: 10 }, (_, i) => call(i, '/register', { email: `user${i}@example.com`, password: PASSWORD })))
  t.same(registrations.map((r) => r.status), Array(10).fill(201))
  const logins = await Promise.all(Array.from({ length: 40 }, (_, i) => call(i, '/login', { email: `user${i % 10}@example.com`, password: PASSWORD })))
  t.same(logins.map((r) => r.status), Array(40).fill(200), 'every concurrent login succeeded')
  const refreshes = await Promise.all(logins.map((r, i) => call(i + 1, '/refresh', { refresh_token: r.body.refresh_token })))
  t.same(refreshes.map((r) => r.status), Array(40).fill(200), 'every concurrent refresh succeeded, on either process')
  const me = await Promise.all(refreshes.map((r, i) => call(i, '/me', undefined, r.body.access_token)))
  t.same(me.map((r) => r.status), Array(40).fill(200), 'each process accepts tokens the other issued')

  const contested = refreshes[0].body.refresh_token
  const both = await Promise.all([0, 1, 0, 1, 0, 1].map((i) => call(i, '/refresh', { refresh_token: contested })))
  t.equal(both.filter((r) => r.status === 200).length, 1, 'one refresh token, honoured once across processes')
  t.ok(both.every((r) => r.status === 200 || r.status === 409), 'the others are 409 (grace window)')

  const logout = await call(0, '/logout', {}, refreshes[1].body.access_token)
  t.equal(logout.status, 200)
  t.equal((await call(1, '/me', undefined, refreshes[1].body.access_token)).status, 401, 'a logout on A is honoured by B')

  const output = a.output() + b.output()
  t.notMatch(output, /SQLITE_BUSY|database is locked/, 'no busy error anywhere')
  t.notMatch(JSON.stringify([registrations, logins, refreshes, me, both]), /SQLITE_BUSY|service_unavailable/)
})
