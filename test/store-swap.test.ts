import Fastify from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, {
  type AnyAuthStore, type AttemptLimit, type AttemptOutcome, AuthService, type AuthStore, type CheckedCredentials,
  type FoundSession, type NewDeviceToken, type NewSession, type NewUserRecord, type RotationResult, type UserPatch,
  type UserRecord
} from '../src/index.ts'
import { SqliteAuthStore, openSqlite, migrate, sqliteStore } from '../src/db/sqlite/index.ts'
import { PASSWORD, SECRET, bearer } from './fixtures/app.ts'

t.test('a store passed as `store` replaces the database; one that fails is 503, logged without its payload', async (t) => {
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  migrate(db)
  // A store of the application's own: the real one, with a switch that makes the hot lookup reject.
  class FlakyStore extends SqliteAuthStore {
    failing = false
    override findSession (id: string) {
      if (this.failing) throw 'connection reset by peer' // eslint-disable-line no-throw-literal
      return super.findSession(id)
    }

    override async findUserByEmail (email: string) {
      if (this.failing) throw new Error(`Failed query: select ... params: ${email},hash-of-a-secret`)
      return super.findUserByEmail(email)
    }
  }
  const store = new FlakyStore(db)
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(fastifyDrizzleAuth, { store, secret: SECRET, bcryptRounds: 4, routes: true })
  t.teardown(() => app.close())
  t.ok(app.authService instanceof AuthService)
  t.equal(app.authService.store, store)

  await app.authService.register('store@example.com', PASSWORD)
  const { accessToken } = await app.authService.login('store@example.com', PASSWORD)
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200)
  store.failing = true
  const res = await app.inject({ url: '/me', headers: bearer(accessToken) })
  t.equal(res.statusCode, 503)
  t.match(lines.join(''), /a value that is not an Error was thrown/)
  t.notMatch(lines.join(''), /connection reset/, 'what the store threw is not logged as such')
  const login = await app.inject({ method: 'POST', url: '/login', payload: { email: 'store@example.com', password: PASSWORD } })
  t.equal(login.statusCode, 503)
  t.match(lines.join(''), /query failed/)
  t.notMatch(lines.join(''), /hash-of-a-secret|params:/, 'a query error without a driver cause never logs its parameters')
  store.failing = false
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200, 'recovers without a restart')
})

/**
 * An application's own AuthStore, written from the package's public types alone: an asynchronous wrapper that
 * counts the calls of any store it is given (what an application would write to instrument its database).
 */
class CountingStore implements AuthStore<'async'> {
  readonly dialect: string
  readonly mode = 'async'
  readonly calls = new Map<string, number>()
  readonly #inner: AnyAuthStore

  constructor (inner: AnyAuthStore) {
    this.#inner = inner
    this.dialect = `counting ${inner.dialect}`
  }

  #count (name: string): AnyAuthStore {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1)
    return this.#inner
  }

  async ready (): Promise<void> { return this.#count('ready').ready() }
  async createUser (values: NewUserRecord): Promise<UserRecord> { return this.#count('createUser').createUser(values) }
  async findUserByEmail (email: string): Promise<UserRecord | undefined> { return this.#count('findUserByEmail').findUserByEmail(email) }
  async findUserById (id: string): Promise<UserRecord | undefined> { return this.#count('findUserById').findUserById(id) }
  async updateUser (id: string, patch: UserPatch, now: Date): Promise<UserRecord | undefined> { return this.#count('updateUser').updateUser(id, patch, now) }
  async createSession (session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, device?: NewDeviceToken): Promise<boolean> {
    return this.#count('createSession').createSession(session, refreshTokenHash, credentials, device)
  }

  async replacePasswordHash (userId: string, oldHash: string, newHash: string, now: Date): Promise<boolean> {
    return this.#count('replacePasswordHash').replacePasswordHash(userId, oldHash, newHash, now)
  }

  async findSession (sessionId: string): Promise<FoundSession | undefined> { return this.#count('findSession').findSession(sessionId) }
  async rotateRefreshToken (oldHash: string, newHash: string, now: Date): Promise<RotationResult> {
    return this.#count('rotateRefreshToken').rotateRefreshToken(oldHash, newHash, now)
  }

  async findRefreshTokenSession (tokenHash: string): Promise<string | undefined> { return this.#count('findRefreshTokenSession').findRefreshTokenSession(tokenHash) }
  async revokeSession (sessionId: string, reason: string, now: Date): Promise<string | undefined> { return this.#count('revokeSession').revokeSession(sessionId, reason, now) }
  async revokeUserSessions (userId: string, reason: string, now: Date, exceptSessionId?: string): Promise<number> {
    return this.#count('revokeUserSessions').revokeUserSessions(userId, reason, now, exceptSessionId)
  }

  async hitLoginAttempts (limits: AttemptLimit[], windowMs: number, now: Date): Promise<AttemptOutcome> {
    return this.#count('hitLoginAttempts').hitLoginAttempts(limits, windowMs, now)
  }

  async clearLoginAttempts (key: string): Promise<void> { return this.#count('clearLoginAttempts').clearLoginAttempts(key) }
  async releaseLoginAttempt (key: string): Promise<void> { return this.#count('releaseLoginAttempt').releaseLoginAttempt(key) }
  async hitDeviceToken (tokenHash: string, userId: string, max: number, now: Date): Promise<boolean> {
    return this.#count('hitDeviceToken').hitDeviceToken(tokenHash, userId, max, now)
  }

  async resetDeviceToken (tokenHash: string, now: Date): Promise<void> { return this.#count('resetDeviceToken').resetDeviceToken(tokenHash, now) }
  async revokeDeviceTokenIfSpent (tokenHash: string, max: number, now: Date): Promise<void> {
    return this.#count('revokeDeviceTokenIfSpent').revokeDeviceTokenIfSpent(tokenHash, max, now)
  }

  async revokeDeviceTokens (userId: string, now: Date): Promise<number> { return this.#count('revokeDeviceTokens').revokeDeviceTokens(userId, now) }
  async purgeExpired (now: Date): Promise<number> { return this.#count('purgeExpired').purgeExpired(now) }
  async close (): Promise<void> { return this.#count('close').close() }
}

t.test('an AuthStore class of the application\'s own, from the public types alone, serves the plugin (asynchronously)', async (t) => {
  const store = new CountingStore(sqliteStore(':memory:'))
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { store, secret: SECRET, bcryptRounds: 4, routes: true })
  t.teardown(() => app.close())
  t.equal(app.authService.store, store)
  const registered = await app.inject({ method: 'POST', url: '/register', payload: { email: 'own@example.com', password: PASSWORD } })
  t.equal(registered.statusCode, 201)
  const login = (await app.inject({ method: 'POST', url: '/login', payload: { email: 'own@example.com', password: PASSWORD } })).json()
  const me = await app.inject({ url: '/me', headers: bearer(login.access_token) })
  t.equal(me.statusCode, 200)
  t.equal(me.json().email, 'own@example.com')
  t.equal(store.calls.get('findSession'), 1, 'the hot path went through the asynchronous lookup')
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(login.access_token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer(login.access_token) })).statusCode, 401, 'logout holds through it')
})
