/**
 * Registrations are limited per address in the store; the hashing queue is bounded (503 busy
 * at once beyond it); logins are served before registrations and password changes waiting for a hash.
 */
import t from 'tap'
import { PASSWORD, buildApp, testDatabase } from './fixtures/app.ts'
import { holdBcrypt, until } from './fixtures/bcrypt-hold.ts'
import { availableDialects } from './fixtures/databases.ts'

type App = Awaited<ReturnType<typeof buildApp>>
const register = (app: App, email: string, ip = '10.1.0.1') =>
  app.inject({ method: 'POST', url: '/register', remoteAddress: ip, payload: { email, password: PASSWORD } })
const users = async (app: App) => Number((await testDatabase(app).query('select count(*) as n from auth_users'))[0].n)

for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    t.test('10 registrations per address per hour by default; the 11th is 429 with Retry-After and writes no user', async (t) => {
      const app = await buildApp({}, {}, dialect)
      t.teardown(() => app.close())
      const statuses = []
      for (let i = 0; i < 9; i++) statuses.push((await register(app, `user${i}@example.com`)).statusCode)
      statuses.push((await register(app, 'user0@example.com')).statusCode)
      t.same(statuses, [...Array(9).fill(201), 409], 'a taken email counts too')
      const refused = await register(app, 'eleventh@example.com')
      t.equal(refused.statusCode, 429)
      t.same(refused.json(), { detail: 'Too many registrations from this address, try again later', code: 'rate_limited' })
      const retryAfter = Number(refused.headers['retry-after'])
      t.ok(retryAfter > 3500 && retryAfter <= 3600, `Retry-After ${retryAfter}`)
      t.equal(await users(app), 9, 'no row for the refused one')
      t.equal((await register(app, 'other@example.com', '10.1.0.2')).statusCode, 201, 'another address is not limited')
      const login = await app.inject({ method: 'POST', url: '/login', remoteAddress: '10.1.0.1', payload: { email: 'user1@example.com', password: PASSWORD } })
      t.equal(login.statusCode, 200, 'logins from the address are not affected')
    })

    t.test('the registration limit is configurable, or off', async (t) => {
      const limited = await buildApp({ registrationRateLimit: { maxPerIp: 2, windowSeconds: 60 } }, {}, dialect)
      t.teardown(() => limited.close())
      const statuses = []
      for (let i = 0; i < 3; i++) statuses.push((await register(limited, `u${i}@example.com`)).statusCode)
      t.same(statuses, [201, 201, 429])
      t.ok(Number((await register(limited, 'u9@example.com')).headers['retry-after']) <= 60)
      const open = await buildApp({ registrationRateLimit: false }, {}, dialect)
      t.teardown(() => open.close())
      for (let i = 0; i < 12; i++) t.equal((await register(open, `u${i}@example.com`)).statusCode, 201)
    })
  })
}

t.test('the hashing queue is bounded: beyond hashQueueLimit a registration is 503 busy at once, and writes nothing', async (t) => {
  const app = await buildApp({ hashConcurrency: 1, hashQueueLimit: 3, registrationRateLimit: false })
  t.teardown(() => app.close())
  const bcrypt = holdBcrypt(t)
  bcrypt.hold('hash')
  const pending = Array.from({ length: 4 }, (_, i) => register(app, `queued${i}@example.com`))
  await bcrypt.held(1)
  await until(() => app.authService.hashQueue.waitingOthers === 3)
  t.same(app.authService.hashQueue, { running: 1, waitingDevices: 0, waitingLogins: 0, waitingOthers: 3 })
  const busy = await register(app, 'one-too-many@example.com')
  t.equal(busy.statusCode, 503)
  t.same(busy.json(), { detail: 'The server is busy, try again shortly', code: 'busy' })
  t.equal(busy.headers['retry-after'], '1')
  t.same(app.authService.hashQueue, { running: 1, waitingDevices: 0, waitingLogins: 0, waitingOthers: 3 }, 'the queue did not grow')
  bcrypt.release()
  t.same((await Promise.all(pending)).map((r) => r.statusCode), [201, 201, 201, 201])
  t.equal(await users(app), 4, 'the refused one wrote nothing')
  t.same(app.authService.hashQueue, { running: 0, waitingDevices: 0, waitingLogins: 0, waitingOthers: 0 })
})

t.test('a login waiting for a hash goes before registrations and password changes waiting longer', async (t) => {
  const app = await buildApp({ hashConcurrency: 1, registrationRateLimit: false })
  t.teardown(() => app.close())
  await app.authService.register('alice@example.com', PASSWORD)
  const bcrypt = holdBcrypt(t)
  bcrypt.hold('hash')
  const first = register(app, 'first@example.com')
  await bcrypt.held(1)
  const waitingRegistrations = [register(app, 'second@example.com'), register(app, 'third@example.com')]
  await until(() => app.authService.hashQueue.waitingOthers === 2)
  const login = app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  await until(() => app.authService.hashQueue.waitingLogins === 1)
  bcrypt.release()
  t.equal((await login).statusCode, 200)
  t.same((await Promise.all([first, ...waitingRegistrations])).map((r) => r.statusCode), [201, 201, 201])
  t.same(bcrypt.calls.map((c) => c.op), ['hash', 'compare', 'hash', 'hash'], 'the login compared right after the running hash')
})

t.test('logins have their own bound: a full queue of registrations does not refuse a login', async (t) => {
  const app = await buildApp({ hashConcurrency: 1, hashQueueLimit: 2, registrationRateLimit: false })
  t.teardown(() => app.close())
  await app.authService.register('alice@example.com', PASSWORD)
  const bcrypt = holdBcrypt(t)
  bcrypt.hold('hash')
  const registrations = Array.from({ length: 3 }, (_, i) => register(app, `r${i}@example.com`))
  await until(() => app.authService.hashQueue.waitingOthers === 2)
  t.equal((await register(app, 'refused@example.com')).statusCode, 503, 'registrations are refused')
  const logins = Array.from({ length: 2 }, () => app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } }))
  await until(() => app.authService.hashQueue.waitingLogins === 2)
  const third = await app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
  t.equal(third.statusCode, 503, 'a login beyond the logins already waiting is refused')
  t.equal(third.json().code, 'busy')
  bcrypt.release()
  t.same((await Promise.all(logins)).map((r) => r.statusCode), [200, 200])
  t.same((await Promise.all(registrations)).map((r) => r.statusCode), [201, 201, 201])
})

t.test('a queue full of anonymous logins: a known device still gets hashed, an over-limit address takes no place, one address holds at most 4', async (t) => {
  const app = await buildApp({ hashConcurrency: 1, hashQueueLimit: 6, registrationRateLimit: false })
  t.teardown(() => app.close())
  await app.authService.register('victim@example.com', PASSWORD)
  const known = await app.inject({ method: 'POST', url: '/login', remoteAddress: '192.0.2.1', payload: { email: 'victim@example.com', password: PASSWORD } })
  const deviceToken = known.json().device_token as string
  const login = (ip: string, email: string, extra: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/login', remoteAddress: ip, payload: { email, password: 'Wrong-Horse-1-Battery', ...extra } })

  const bcrypt = holdBcrypt(t)
  bcrypt.hold('compare')
  // The flood: random emails from many addresses, until the hashing place and the login waiting places are full.
  const flood = Array.from({ length: 7 }, (_, i) => login(`203.0.113.${i + 1}`, `random${i}@example.com`))
  await bcrypt.held(1)
  await until(() => app.authService.hashQueue.waitingLogins === 6)
  const refused = await login('203.0.113.99', 'random-more@example.com')
  t.equal(refused.statusCode, 503, 'the anonymous flood filled its lane')

  const device = app.inject({ method: 'POST', url: '/login', remoteAddress: '198.51.100.7', payload: { email: 'victim@example.com', password: PASSWORD, device_token: deviceToken } })
  await until(() => app.authService.hashQueue.waitingDevices === 1)
  t.same(app.authService.hashQueue, { running: 1, waitingDevices: 1, waitingLogins: 6, waitingOthers: 0 }, 'the known device waits in a lane of its own')
  bcrypt.release()
  const answered = await device
  t.equal(answered.statusCode, 200, 'the victim on its known device gets in')
  t.same(bcrypt.calls.map((c) => c.op).slice(0, 2), ['compare', 'compare'], 'right after the running comparison')
  t.same((await Promise.all(flood)).map((r) => r.statusCode), Array(7).fill(401))

  // An address over its limit is refused before it takes a place: 429, and the queue never sees it.
  for (let i = 0; i < 5; i++) await login('198.51.100.50', 'victim@example.com')
  bcrypt.hold('compare')
  const blocker = login('198.51.100.51', 'someone@example.com')
  await bcrypt.held(1)
  const overLimit = await login('198.51.100.50', 'victim@example.com')
  t.equal(overLimit.statusCode, 429, 'over the limit: 429, not a queue place')
  t.same(app.authService.hashQueue, { running: 1, waitingDevices: 0, waitingLogins: 0, waitingOthers: 0 }, 'it took no place')

  // One address (an IPv6 /64 counts as one) holds at most 4 places; another address still queues.
  const same = Array.from({ length: 4 }, (_, i) => login(`2001:db8:1:2::${i + 1}`, `guess${i}@example.com`))
  await until(() => app.authService.hashQueue.waitingLogins === 4)
  const fifth = await login('2001:db8:1:2::ff', 'guess-more@example.com')
  t.equal(fifth.statusCode, 503, 'the fifth place of one /64 is refused')
  const other = login('2001:db8:9:9::1', 'elsewhere@example.com')
  await until(() => app.authService.hashQueue.waitingLogins === 5)
  bcrypt.release()
  t.same((await Promise.all([blocker, ...same, other])).map((r) => r.statusCode), Array(6).fill(401))
})
