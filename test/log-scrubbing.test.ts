/**
 * An error that leaves the service carries a cause with the driver's code and message
 * only, so Fastify's default 5xx log (which prints cause chains) never shows a query's parameters.
 */
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import pg from 'pg'
import t from 'tap'
import fastifyDrizzleAuth from '../src/index.ts'
import { describeError, scrubbedCause } from '../src/errors.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'
import { createTestDatabase, requirePostgres } from './fixtures/databases.ts'

t.test('scrubbedCause keeps the driver code and message, nothing of a wrapper that quotes parameters', async (t) => {
  const driver = Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03', detail: 'Key (email)=(x@example.com)' })
  const wrapped = new Error('Failed query: insert into "auth_users" ... params: x@example.com,$2b$04$abc', { cause: driver })
  const cause = scrubbedCause(wrapped)
  t.equal(cause.message, 'canceling statement due to lock timeout')
  t.equal((cause as Error & { code?: string }).code, '55P03')
  t.equal(cause.cause, undefined, 'no chain behind it')
  t.notMatch(JSON.stringify({ ...cause, stack: cause.stack }), /example\.com|\$2b\$/)
  t.same(describeError(new Error('Failed query: select ... params: secret')), { name: 'Error', message: 'query failed' })
  t.same(describeError('a string'), { name: 'string', message: 'a value that is not an Error was thrown' })
})

t.test('PostgreSQL: register in an application route during a lock timeout logs no email and no hash', async (t) => {
  if (!await requirePostgres()) return
  const db = await createTestDatabase('postgresql')
  t.teardown(() => db.close())
  let logged = ''
  const stream = new Writable({ write (chunk, _encoding, callback) { logged += chunk.toString(); callback() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  await app.register(fastifyDrizzleAuth, {
    database: db.url!, secret: SECRET, bcryptRounds: 4, postgresPool: { options: '-c lock_timeout=200' }
  })
  // The application's own route, with no error handler of its own: Fastify's default logs the 503.
  app.post<{ Body: { email: string, password: string } }>('/signup', async (request, reply) => {
    const user = await app.authService.register(request.body.email, request.body.password)
    return reply.code(201).send({ id: user.id })
  })
  t.teardown(() => app.close())
  await app.ready()

  const locker = new pg.Client({ connectionString: db.url })
  await locker.connect()
  t.teardown(() => locker.end())
  await locker.query('begin')
  await locker.query('lock table auth_users in access exclusive mode')
  const res = await app.inject({ method: 'POST', url: '/signup', payload: { email: 'leaky@example.com', password: PASSWORD } })
  await locker.query('rollback')

  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'service_unavailable')
  t.match(logged, /lock timeout/, 'the reason is logged')
  t.match(logged, /55P03/, 'with the driver code')
  t.notMatch(logged, /leaky@example\.com/, 'no email')
  t.notMatch(logged, /\$2b\$/, 'no bcrypt hash')
  t.notMatch(logged, /Failed query/, "nothing of Drizzle's query text")
  t.equal((await app.inject({ method: 'POST', url: '/signup', payload: { email: 'leaky@example.com', password: PASSWORD } })).statusCode, 201,
    'and it works once the lock is gone')
})
