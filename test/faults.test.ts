import { join } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import Fastify from 'fastify'
import t from 'tap'
import { tempDir } from './fixtures/temp.ts'
import fastifyDrizzleAuth, { AuthService, ServiceUnavailableError, requireAuth } from '../src/index.ts'
import { migrate, openSqlite } from '../src/db/sqlite/index.ts'
import { PASSWORD, SECRET, bearer, login, registerAndLogin } from './fixtures/app.ts'

const unhandled: unknown[] = []
process.on('unhandledRejection', (err) => { unhandled.push(err) })

async function appOn (database: object) {
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: database as never, secret: SECRET, bcryptRounds: 4, routes: true })
  app.get('/open', async () => ({ ok: true }))
  app.get('/strict', async (request) => ({ email: requireAuth(request).email }))
  return app
}

t.test('a closed database: 503 from loginRequired and /login, never 401, and the process stays up', async (t) => {
  const { db, close } = openSqlite(':memory:')
  const app = await appOn(db)
  t.teardown(() => app.close())
  const { accessToken, refreshToken } = await registerAndLogin(app)
  close()

  const me = await app.inject({ url: '/me', headers: bearer(accessToken) })
  t.equal(me.statusCode, 503, 'a request with a token: 503, so the client keeps its token')
  t.same(me.json(), { detail: 'Authentication service unavailable', code: 'service_unavailable' })
  t.equal(me.headers['retry-after'], '5')
  const strict = await app.inject({ url: '/strict', headers: bearer(accessToken) })
  t.equal(strict.statusCode, 503, 'requireAuth raises ServiceUnavailableError, not AuthenticationError')
  const loginRes = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(loginRes.statusCode, 503)
  t.equal(loginRes.json().code, 'service_unavailable')
  const refreshRes = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: refreshToken } })
  t.equal(refreshRes.statusCode, 503)
  const register = await app.inject({ method: 'POST', url: '/register', payload: { email: 'new@example.com', password: PASSWORD } })
  t.equal(register.statusCode, 503)
  // Without an address no registration limit is counted: the insert itself meets the closed database.
  await t.rejects(app.authService.register('script@example.com', PASSWORD), ServiceUnavailableError)
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(accessToken) })).statusCode, 200, 'logout never throws')
  t.equal((await app.inject({ url: '/me' })).statusCode, 401, 'no token: still the plain 401')
  t.same((await app.inject({ url: '/open' })).json(), { ok: true }, 'routes without auth keep working')
  for (const res of [me, loginRes, refreshRes, register]) {
    t.notMatch(res.body, /sqlite|select|insert|database connection|\/work|at .*\.ts/i, 'no SQL, driver message, stack or path')
  }
  await new Promise((resolve) => setImmediate(resolve))
  t.same(unhandled, [], 'no unhandled rejection')
})

t.test('a locked database file: 503 while locked, success again once the lock is gone, no restart', async (t) => {
  const dir = tempDir(t, 'fda-lock-')
  const file = join(dir, 'auth.sqlite')
  const client = new Database(file)
  client.pragma('busy_timeout = 100')
  const db = drizzle(client)
  migrate(db)
  const app = await appOn(db)
  t.teardown(() => { app.close(); client.close() })
  const { accessToken } = await registerAndLogin(app)

  const locker = new Database(file)
  locker.exec('begin exclusive')
  const me = await app.inject({ url: '/me', headers: bearer(accessToken) })
  t.equal(me.statusCode, 503, 'locked: 503, not 401')
  const loginRes = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(loginRes.statusCode, 503)
  locker.exec('commit')
  locker.close()

  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200, 'back without a restart')
  t.ok(await login(app), 'logins work again')
})

t.test('a store error is never "authenticated" for the service either', async (t) => {
  const { db, close } = openSqlite(':memory:')
  const auth = new AuthService({ database: db, secret: SECRET, bcryptRounds: 4 })
  await auth.register('s@example.com', PASSWORD)
  const { accessToken } = await auth.login('s@example.com', PASSWORD)
  close()
  await t.rejects(auth.authenticate(accessToken), ServiceUnavailableError)
  await t.rejects(auth.login('s@example.com', PASSWORD), ServiceUnavailableError)
  await t.resolves(auth.logout(accessToken), 'logout never throws')
})
