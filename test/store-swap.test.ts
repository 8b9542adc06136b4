import Fastify from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, { AuthService } from '../src/index.ts'
import { SqliteAuthStore, openSqlite, migrate, sqliteStore } from '../src/db/sqlite/index.ts'
import { PASSWORD, SECRET, bearer } from './fixtures/app.ts'
import { CountingStore } from './fixtures/counting-store.ts'
import { findMany } from '../src/db/turn-batch.ts'

t.test('a store passed as `store` replaces the database; one that fails is 503, logged without its payload', async (t) => {
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  migrate(db)
  // The real store, with a switch that makes the hot lookup and the user lookup fail.
  const store = new SqliteAuthStore(db)
  let failing = false
  const many = store.sessions[findMany].bind(store.sessions)
  store.sessions[findMany] = (ids) => {
    if (failing) throw 'connection reset by peer' // eslint-disable-line no-throw-literal
    return many(ids)
  }
  const findByEmail = store.users.findByEmail.bind(store.users)
  store.users.findByEmail = async (email) => {
    if (failing) throw new Error(`Failed query: select ... params: ${email},hash-of-a-secret`)
    return findByEmail(email)
  }
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(fastifyDrizzleAuth, { store, secret: SECRET, bcryptRounds: 4, routes: true })
  t.teardown(() => app.close())
  t.ok(app.authService instanceof AuthService)
  t.equal(app.authService.store, store)

  await app.authService.register('store@example.com', PASSWORD)
  const { accessToken } = await app.authService.login('store@example.com', PASSWORD)
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200)
  failing = true
  const res = await app.inject({ url: '/me', headers: bearer(accessToken) })
  t.equal(res.statusCode, 503)
  t.match(lines.join(''), /a value that is not an Error was thrown/)
  t.notMatch(lines.join(''), /connection reset/, 'what the store threw is not logged as such')
  const login = await app.inject({ method: 'POST', url: '/login', payload: { email: 'store@example.com', password: PASSWORD } })
  t.equal(login.statusCode, 503)
  t.match(lines.join(''), /query failed/)
  t.notMatch(lines.join(''), /hash-of-a-secret|params:/, 'a query error without a driver cause never logs its parameters')
  failing = false
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200, 'recovers without a restart')
})

t.test('an AuthStore class of the application\'s own, from the public types alone, serves the plugin (asynchronously)', async (t) => {
  const store = new CountingStore(sqliteStore(':memory:'), { batched: false })
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { store, secret: SECRET, bcryptRounds: 4, routes: true })
  t.teardown(() => app.close())
  t.equal(app.authService.store, store)
  const registered = await app.inject({ method: 'POST', url: '/register', payload: { email: 'own@example.com', password: PASSWORD } })
  t.equal(registered.statusCode, 201)
  store.sequence.length = 0
  const login = (await app.inject({ method: 'POST', url: '/login', payload: { email: 'own@example.com', password: PASSWORD } })).json()
  t.same(store.sequence, ['users.findByEmail', 'limits.peek', 'limits.hit', 'sessions.create'],
    'a login: four store calls, its counts settled with its session')
  const me = await app.inject({ url: '/me', headers: bearer(login.access_token) })
  t.equal(me.statusCode, 200)
  t.equal(me.json().email, 'own@example.com')
  t.equal(store.calls.get('sessions.find'), 1, 'the hot path went through the asynchronous lookup')
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(login.access_token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer(login.access_token) })).statusCode, 401, 'logout holds through it')
})
