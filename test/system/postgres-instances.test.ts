import t from 'tap'
import { createTestDatabase, requirePostgres } from '../fixtures/databases.ts'
import { plainRequest } from '../fixtures/http-client.ts'
import { startServer } from '../fixtures/server-process.ts'

const PASSWORD = 'Many-Instances-Pass-42'

if (await requirePostgres()) {
  t.test('two Fastify processes on one PostgreSQL database behave as one', async (t) => {
    const db = await createTestDatabase('postgresql')
    t.teardown(() => db.close())
    const env = { DATABASE_URL: db.url!, AUTH_SECRET: 'instances-secret-shared-by-both-32b', PORT: '0', LOG_LEVEL: 'info', AUTH_REGISTRATIONS_PER_IP: '100' }
    // Both start at once on an empty database: both run the migrations at the same moment.
    const [a, b] = await Promise.all([startServer(env), startServer(env)])
    t.teardown(async () => { await a.stop(); await b.stop() })
    const call = async (server: typeof a, path: string, body?: object, token?: string) => {
      const res = await plainRequest(`${server.url}${path}`, body === undefined ? 'GET' : 'POST', body, token === undefined ? {} : { authorization: `Bearer ${token}` })
      return { status: res.status, body: res.body }
    }
    const either = (i: number) => (i % 2 === 0 ? a : b)

    // (c) 20 registrations of one email spread over both: one 201.
    const registrations = await Promise.all(Array.from({ length: 20 }, (_, i) => call(either(i), '/register', { email: 'shared@example.com', password: PASSWORD })))
    t.same(registrations.map((r) => r.status).sort(), [201, ...Array(19).fill(409)], 'one 201, nineteen 409')

    // (a) a logout through A makes the token fail on B on the next request.
    const s1 = (await call(a, '/login', { email: 'shared@example.com', password: PASSWORD })).body
    t.equal((await call(b, '/me', undefined, s1.access_token)).status, 200, 'B accepts a token A issued')
    t.equal((await call(a, '/logout', {}, s1.access_token)).status, 200)
    t.equal((await call(b, '/me', undefined, s1.access_token)).status, 401, 'B refuses it right after the logout on A')
    t.equal((await call(b, '/refresh', { refresh_token: s1.refresh_token })).status, 401)

    // (b) the same refresh token sent to both at once is honoured exactly once.
    const s2 = (await call(b, '/login', { email: 'shared@example.com', password: PASSWORD })).body
    const races = await Promise.all(Array.from({ length: 10 }, (_, i) => call(either(i), '/refresh', { refresh_token: s2.refresh_token })))
    t.equal(races.filter((r) => r.status === 200).length, 1, 'exactly one 200 across both processes')
    t.ok(races.every((r) => r.status === 200 || r.status === 409), 'the others 409 inside the grace window')

    // (d) the failed-login limit counts attempts made on both.
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await call(either(i), '/login', { email: 'shared@example.com', password: 'Wrong-Password-1' })).status)
    t.same(statuses, [401, 401, 401, 401, 401, 429], '3 failures on A and 2 on B: the 6th is limited')
    t.equal((await call(b, '/login', { email: 'shared@example.com', password: PASSWORD })).status, 429, 'on either instance')

    const output = a.output() + b.output()
    t.notMatch(output, /"level":50/, 'no error logged by either process')
  })
}
