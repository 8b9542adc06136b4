import t from 'tap'
import { PASSWORD, buildApp as buildAppOn } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'
import { testClock } from './fixtures/clock.ts'

// One suite, run once per dialect the machine has (PostgreSQL is required under CI).
for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    const buildApp = (options: Parameters<typeof buildAppOn>[0] = {}, fastifyOptions: Parameters<typeof buildAppOn>[1] = {}) =>
      buildAppOn(options, fastifyOptions, dialect)

    type App = Awaited<ReturnType<typeof buildApp>>
    const attempt = (app: App, email: string, password: string, headers: Record<string, string> = {}, remoteAddress = '10.0.0.1') =>
      app.inject({ method: 'POST', url: '/login', payload: { email, password }, headers, remoteAddress })

    t.test('attempts 1-5 get 401, the 6th gets 429 with Retry-After even with the right password', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const events: unknown[] = []
      app.authService.on('rate_limit_exceeded', (payload) => { events.push(payload) })
      await app.inject({ method: 'POST', url: '/register', payload: { email: 'alice@example.com', password: PASSWORD } })
      for (let i = 1; i <= 5; i++) t.equal((await attempt(app, 'alice@example.com', 'Wrong-Password-1')).statusCode, 401, `attempt ${i}`)
      const limited = await attempt(app, 'alice@example.com', PASSWORD)
      t.equal(limited.statusCode, 429)
      t.same(limited.json(), { detail: 'Too many failed login attempts, try again later', code: 'rate_limited' })
      const retryAfter = Number(limited.headers['retry-after'])
      t.ok(retryAfter > 0 && retryAfter <= 900, `Retry-After ${retryAfter}`)
      t.equal(events.length, 1, 'rate_limit_exceeded emitted')
      t.match(events[0], { email: 'alice@example.com', ip: '10.0.0.1' })
      t.equal((await attempt(app, 'alice@example.com', PASSWORD, {}, '10.0.0.2')).statusCode, 200, 'another IP is not limited by this email+IP count')
    })

    t.test('the limit is the same whether or not the account exists', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      await app.inject({ method: 'POST', url: '/register', payload: { email: 'real@example.com', password: PASSWORD } })
      const statuses = async (email: string) => {
        const out: number[] = []
        for (let i = 0; i < 7; i++) out.push((await attempt(app, email, 'Wrong-Password-1')).statusCode)
        return out
      }
      const real = await statuses('real@example.com')
      const ghost = await statuses('ghost@example.com')
      t.same(real, [401, 401, 401, 401, 401, 429, 429])
      t.same(ghost, real)
    })

    t.test('a success resets the email+IP count', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      await app.inject({ method: 'POST', url: '/register', payload: { email: 'bob@example.com', password: PASSWORD } })
      for (let i = 0; i < 4; i++) await attempt(app, 'bob@example.com', 'Wrong-Password-1')
      t.equal((await attempt(app, 'bob@example.com', PASSWORD)).statusCode, 200)
      for (let i = 1; i <= 5; i++) t.equal((await attempt(app, 'bob@example.com', 'Wrong-Password-1')).statusCode, 401, `fresh attempt ${i}`)
      t.equal((await attempt(app, 'bob@example.com', 'Wrong-Password-1')).statusCode, 429)
    })

    t.test('the per-IP limit counts failures across emails; limits and window are configurable', async (t) => {
      const clock = testClock()
      const app = await buildApp({ loginRateLimit: { maxAttemptsPerEmail: 2, maxAttemptsPerIp: 3, windowSeconds: 1 }, clock: clock.now })
      t.teardown(() => app.close())
      const statuses: number[] = []
      for (const email of ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com']) {
        statuses.push((await attempt(app, email, 'Wrong-Password-1')).statusCode)
      }
      t.same(statuses, [401, 401, 401, 429], 'the 4th failure from one IP is over the per-IP limit of 3')
      t.equal((await attempt(app, 'e@example.com', 'Wrong-Password-1', {}, '10.9.9.9')).statusCode, 401, 'another IP is fine')
      t.equal((await attempt(app, 'a@example.com', 'Wrong-Password-1')).statusCode, 429, 'still the same window')
      clock.advance(1100)
      t.equal((await attempt(app, 'a@example.com', 'Wrong-Password-1')).statusCode, 401, 'a new window starts')
    })

    t.test('X-Forwarded-For is honoured only when trustProxy is on', async (t) => {
      const spoofable = await buildApp()
      t.teardown(() => spoofable.close())
      for (let i = 0; i < 5; i++) await attempt(spoofable, 'x@example.com', 'Wrong-Password-1', { 'x-forwarded-for': `192.0.2.${i}` })
      t.equal((await attempt(spoofable, 'x@example.com', 'Wrong-Password-1', { 'x-forwarded-for': '192.0.2.99' })).statusCode, 429,
        'without trustProxy a forged X-Forwarded-For changes nothing')

      const proxied = await buildApp({}, { trustProxy: true })
      t.teardown(() => proxied.close())
      for (let i = 0; i < 5; i++) await attempt(proxied, 'x@example.com', 'Wrong-Password-1', { 'x-forwarded-for': '198.51.100.7' })
      t.equal((await attempt(proxied, 'x@example.com', 'Wrong-Password-1', { 'x-forwarded-for': '198.51.100.7' })).statusCode, 429)
      t.equal((await attempt(proxied, 'x@example.com', 'Wrong-Password-1', { 'x-forwarded-for': '198.51.100.8' })).statusCode, 401,
        'behind a trusted proxy the client address is the forwarded one')
    })

    t.test('parallel guesses cannot slip past the limit', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const results = await Promise.all(Array.from({ length: 20 }, () => attempt(app, 'par@example.com', 'Wrong-Password-1')))
      const statuses = results.map((r) => r.statusCode).sort()
      t.same(statuses, [...Array(5).fill(401), ...Array(15).fill(429)])
    })

    t.test('concurrent correct logins of one user from one address are never limited', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      await app.inject({ method: 'POST', url: '/register', payload: { email: 'busy@example.com', password: PASSWORD } })
      const results = await Promise.all(Array.from({ length: 16 }, () => attempt(app, 'busy@example.com', PASSWORD)))
      t.same(results.map((r) => r.statusCode), Array(16).fill(200), 'sixteen tabs logging in at once all get in')
    })

    t.test('loginRateLimit: false turns the limiter off', async (t) => {
      const app = await buildApp({ loginRateLimit: false })
      t.teardown(() => app.close())
      for (let i = 0; i < 8; i++) t.equal((await attempt(app, 'off@example.com', 'Wrong-Password-1')).statusCode, 401)
    })
  })
}
