/**
 * Current-password guessing is counted like failed logins, device tokens keep an
 * account's own devices out of the per-address and per-account walls, a per-account limit across addresses
 * (IPv6 keyed per /64), and requests already over a limit write nothing.
 */
import { createHash } from 'node:crypto'
import t from 'tap'
import type { FastifyDrizzleAuthOptions } from '../src/index.ts'
import { ipKey } from '../src/service/limits.ts'
import { PASSWORD, bearer, buildApp, testDatabase } from './fixtures/app.ts'
import { availableDialects, type Dialect } from './fixtures/databases.ts'

type App = Awaited<ReturnType<typeof buildApp>>
const RATE_LIMITED = { detail: 'Too many failed login attempts, try again later', code: 'rate_limited' }

const loginFrom = (app: App, ip: string, email: string, password: string, deviceToken?: string) =>
  app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress: ip,
    payload: deviceToken === undefined ? { email, password } : { email, password, device_token: deviceToken }
  })

const rows = async (app: App, table: string) => Number((await testDatabase(app).query(`select count(*) as n from ${table}`))[0].n)

async function setup (dialect: Dialect, options: Partial<FastifyDrizzleAuthOptions> = {}) {
  const app = await buildApp({ registrationRateLimit: false, ...options }, {}, dialect)
  const alice = await app.authService.register('alice@example.com', PASSWORD)
  const first = await loginFrom(app, '10.0.0.5', 'alice@example.com', PASSWORD)
  return { app, alice, device: first.json().device_token as string, access: first.json().access_token as string }
}

t.test('changePassword from a script: no address still counts per email and account; an unknown user is refused', async (t) => {
  const app = await buildApp({ registrationRateLimit: false, loginRateLimit: { maxAttemptsPerEmail: 2 } })
  t.teardown(() => app.close())
  const alice = await app.authService.register('alice@example.com', PASSWORD)
  for (let i = 0; i < 2; i++) {
    await t.rejects(app.authService.changePassword(alice, `Wrong-${i}`, 'Fresh-Strong-Pass-8'), { code: 'invalid_current_password' })
  }
  await t.rejects(app.authService.changePassword(alice, PASSWORD, 'Fresh-Strong-Pass-8'), { code: 'rate_limited', statusCode: 429 })
  await t.rejects(app.authService.changePassword({ id: 'no-such-user' }, PASSWORD, 'Fresh-Strong-Pass-8'), { code: 'user_not_found', statusCode: 401 })
})

t.test('ipKey: IPv4 as it is, IPv4-mapped as IPv4 in every spelling, IPv6 by its /64, ports dropped, garbage shared', async (t) => {
  t.equal(ipKey('203.0.113.9:4711'), '203.0.113.9', 'ip:port')
  t.equal(ipKey(' 203.0.113.9 '), '203.0.113.9')
  t.equal(ipKey('[2001:db8::1]:443'), '2001:db8:0:0::/64', '[v6]:port')
  t.equal(ipKey('[2001:db8::1]'), '2001:db8:0:0::/64', '[v6]')
  t.equal(ipKey('::ffff:cb00:7109'), '203.0.113.9', 'IPv4-mapped in hex')
  t.equal(ipKey('::FFFF:CB00:7109'), '203.0.113.9')
  t.equal(ipKey('0:0:0:0:0:ffff:cb00:7109'), '203.0.113.9', 'uncompressed')
  t.equal(ipKey('0000:0000:0000:0000:0000:ffff:203.0.113.9'), '203.0.113.9')
  t.equal(ipKey('[::ffff:203.0.113.9]:80'), '203.0.113.9')
  t.equal(ipKey('::ffff:0:cb00:7109'), '0:0:0:0::/64', 'IPv4-translated (not mapped) stays IPv6')
  for (const garbage of ['not an address', 'unknown', '', '1.2.3', '[nope]:1', 'fe80::1::2']) {
    t.equal(ipKey(garbage), 'unparsed', `one shared bucket: ${JSON.stringify(garbage)}`)
  }
  t.equal(ipKey('203.0.113.9'), '203.0.113.9')
  t.equal(ipKey('::ffff:203.0.113.9'), '203.0.113.9')
  t.equal(ipKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.equal(ipKey('2001:0db8:0000:0000:ffff:1:2:3'), '2001:db8:0:0::/64')
  t.equal(ipKey('2001:db8:0:1::1'), '2001:db8:0:1::/64')
  t.equal(ipKey('fe80::1%eth0'), 'fe80:0:0:0::/64')
  t.equal(ipKey('::1'), '0:0:0:0::/64')
})

for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    t.test('wrong current passwords are counted like failed logins: the 6th change attempt is 429, even with the right one', async (t) => {
      const { app, alice, access } = await setup(dialect)
      t.teardown(() => app.close())
      const change = (current: string) => app.inject({
        method: 'POST',
        url: '/password',
        remoteAddress: '10.0.0.5',
        headers: bearer(access),
        payload: { current_password: current, new_password: 'A-New-Strong-Pass-31' }
      })
      for (let i = 1; i <= 5; i++) {
        const res = await change(`Wrong-Guess-${i}`)
        t.equal(res.statusCode, 403, `guess ${i}`)
        t.equal(res.json().code, 'invalid_current_password')
      }
      const limited = await change(PASSWORD)
      t.equal(limited.statusCode, 429)
      t.same(limited.json(), RATE_LIMITED)
      t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
      t.equal(await app.authService.checkPassword(alice, PASSWORD), true, 'the password did not change')
    })

    t.test('the count is shared with failed logins of the account, from any address', async (t) => {
      const { app, access } = await setup(dialect, { loginRateLimit: { maxAttemptsPerEmail: 100, maxAttemptsPerAccount: 4 } })
      t.teardown(() => app.close())
      t.equal((await loginFrom(app, '192.0.2.1', 'alice@example.com', 'Wrong-1')).statusCode, 401)
      t.equal((await loginFrom(app, '192.0.2.2', 'alice@example.com', 'Wrong-2')).statusCode, 401)
      const change = (current: string) => app.inject({
        method: 'POST',
        url: '/password',
        remoteAddress: '10.0.0.5',
        headers: bearer(access),
        payload: { current_password: current, new_password: 'A-New-Strong-Pass-31' }
      })
      t.equal((await change('Wrong-3')).statusCode, 403)
      t.equal((await change('Wrong-4')).statusCode, 403)
      t.equal((await change(PASSWORD)).statusCode, 429, 'four failures of the account in all')
      t.equal((await loginFrom(app, '192.0.2.3', 'alice@example.com', PASSWORD)).statusCode, 429, 'logins of the account too')
    })

    t.test('a login returns a device token, stored only as its SHA-256', async (t) => {
      const { app, device } = await setup(dialect)
      t.teardown(() => app.close())
      t.match(device, /^[A-Za-z0-9_-]{43}$/)
      const stored = await testDatabase(app).query('select token_hash, failures, revoked_at from auth_device_tokens')
      t.equal(stored.length, 1)
      t.equal(stored[0].token_hash, createHash('sha256').update(device).digest('base64url'))
      t.not(stored[0].token_hash, device)
    })

    t.test('an address over its limit still lets a device token of that account in, and only of that account', async (t) => {
      const { app, device } = await setup(dialect, { loginRateLimit: { maxAttemptsPerIp: 3 } })
      t.teardown(() => app.close())
      await app.authService.register('bob@example.com', PASSWORD)
      const bobDevice = (await loginFrom(app, '10.0.0.6', 'bob@example.com', PASSWORD)).json().device_token
      const nat = '198.51.100.7'
      for (const email of ['x@example.com', 'y@example.com', 'z@example.com']) t.equal((await loginFrom(app, nat, email, 'Wrong-Pass-1')).statusCode, 401)
      const walled = await loginFrom(app, nat, 'alice@example.com', PASSWORD)
      t.equal(walled.statusCode, 429, 'without a device token the address is over its limit')
      t.same(walled.json(), RATE_LIMITED)
      t.equal((await loginFrom(app, nat, 'alice@example.com', PASSWORD, bobDevice)).statusCode, 429, "another account's device token does not help")
      t.equal((await loginFrom(app, nat, 'alice@example.com', PASSWORD, 'A'.repeat(43))).statusCode, 429, 'nor an unknown one')
      const trusted = await loginFrom(app, nat, 'alice@example.com', PASSWORD, device)
      t.equal(trusted.statusCode, 200, 'the device token of this account is exempt')
      t.equal(trusted.json().device_token, device, 'and is kept')
      t.equal((await loginFrom(app, nat, 'alice@example.com', 'Wrong-Pass-2', device)).statusCode, 401, 'a wrong password is 401, not 429')
      t.equal(await rows(app, 'auth_device_tokens'), 2, 'no new device token for a login that presented one')
    })

    t.test('a presented device token costs the same store work whether or not the email has an account', async (t) => {
      const { app } = await setup(dialect)
      t.teardown(() => app.close())
      const store = app.authService.store as unknown as Record<string, Record<string, (...args: unknown[]) => unknown>>
      const calls: string[] = []
      for (const name of ['users.findByEmail', 'limits.peek', 'devices.hit', 'limits.hit', 'devices.revokeIfSpent']) {
        const [facet, method] = name.split('.')
        const original = store[facet][method].bind(store[facet])
        store[facet][method] = (...args: unknown[]) => { calls.push(name); return original(...args) }
      }
      await loginFrom(app, '10.0.0.7', 'alice@example.com', 'Wrong-Pass-1', 'B'.repeat(43))
      const known = calls.splice(0)
      await loginFrom(app, '10.0.0.7', 'nobody@example.com', 'Wrong-Pass-1', 'B'.repeat(43))
      t.same(calls, known, 'the same calls, in the same order')
      t.same(known, ['users.findByEmail', 'limits.peek', 'devices.hit', 'limits.hit'])
    })

    t.test('ten failures with one device token revoke it', async (t) => {
      const { app, device } = await setup(dialect, { loginRateLimit: { maxAttemptsPerIp: 3 } })
      t.teardown(() => app.close())
      const ip = '198.51.100.8'
      const statuses = []
      for (let i = 0; i < 10; i++) statuses.push((await loginFrom(app, ip, 'alice@example.com', `Wrong-Pass-${i}`, device)).statusCode)
      t.same(statuses, Array(10).fill(401), 'counted on the token, not on the address')
      const [row] = await testDatabase(app).query('select failures, revoked_at from auth_device_tokens')
      t.equal(Number(row.failures), 10)
      t.not(row.revoked_at, null, 'revoked')
      for (let i = 0; i < 3; i++) await loginFrom(app, ip, 'nobody@example.com', 'Wrong-Pass-x')
      t.equal((await loginFrom(app, ip, 'alice@example.com', PASSWORD, device)).statusCode, 429, 'no longer exempt')
    })

    t.test('a success resets the device token count', async (t) => {
      const { app, device } = await setup(dialect)
      t.teardown(() => app.close())
      for (let i = 0; i < 9; i++) await loginFrom(app, '10.0.0.5', 'alice@example.com', `Wrong-Pass-${i}`, device)
      t.equal((await loginFrom(app, '10.0.0.5', 'alice@example.com', PASSWORD, device)).statusCode, 200)
      const [row] = await testDatabase(app).query('select failures, revoked_at from auth_device_tokens')
      t.same([Number(row.failures), row.revoked_at], [0, null])
    })

    for (const how of ['logoutAll', 'setPassword', 'deactivate'] as const) {
      t.test(`${how} revokes the device tokens`, async (t) => {
        const { app, alice, device } = await setup(dialect, { loginRateLimit: { maxAttemptsPerIp: 1 } })
        t.teardown(() => app.close())
        if (how === 'logoutAll') await app.authService.logoutAll(alice.id)
        else if (how === 'setPassword') await app.authService.setPassword(alice.id, 'Brand-New-Pass-55')
        else { await app.authService.deactivate(alice.id); await app.authService.activate(alice.id) }
        const live = await testDatabase(app).query('select token_hash from auth_device_tokens where revoked_at is null')
        t.same(live, [], 'none live')
        const password = how === 'setPassword' ? 'Brand-New-Pass-55' : PASSWORD
        await loginFrom(app, '198.51.100.9', 'x@example.com', 'Wrong-Pass-1')
        t.equal((await loginFrom(app, '198.51.100.9', 'alice@example.com', password, device)).statusCode, 429, 'the token no longer exempts')
      })
    }

    t.test('at most 20 failures per account across all addresses; the owner\'s device is still let in', async (t) => {
      const { app, device } = await setup(dialect)
      t.teardown(() => app.close())
      const statuses: number[] = []
      for (let ip = 1; ip <= 8; ip++) {
        for (let i = 0; i < 5; i++) statuses.push((await loginFrom(app, `203.0.113.${ip}`, 'alice@example.com', `Guess-${ip}-${i}`)).statusCode)
      }
      t.same(statuses, [...Array(20).fill(401), ...Array(20).fill(429)], '40 guesses from 8 addresses: 20 counted, 20 refused')
      const right = await loginFrom(app, '203.0.113.99', 'alice@example.com', PASSWORD)
      t.equal(right.statusCode, 429, 'then the right password from a fresh address is refused too')
      t.ok(Number(right.headers['retry-after']) > 0)
      t.equal((await loginFrom(app, '203.0.113.99', 'alice@example.com', PASSWORD, device)).statusCode, 200, 'the device token is exempt')
      t.equal((await loginFrom(app, '203.0.113.98', 'ghost@example.com', 'Guess')).statusCode, 401, 'other accounts unaffected')
    })

    t.test('the per-account limit is configurable and the same for unknown accounts', async (t) => {
      const { app } = await setup(dialect, { loginRateLimit: { maxAttemptsPerAccount: 2 } })
      t.teardown(() => app.close())
      const run = async (email: string) => {
        const out: number[] = []
        for (let i = 0; i < 3; i++) out.push((await loginFrom(app, `203.0.113.${i + 10}`, email, 'Guess-0')).statusCode)
        return out
      }
      t.same(await run('alice@example.com'), [401, 401, 429])
      t.same(await run('ghost@example.com'), [401, 401, 429])
    })

    t.test('IPv6 clients are counted per /64 for the per-address limit', async (t) => {
      const { app } = await setup(dialect, { loginRateLimit: { maxAttemptsPerIp: 3 } })
      t.teardown(() => app.close())
      const statuses = []
      for (const [i, ip] of ['2001:db8::1', '2001:db8::2', '2001:db8:0:0:abcd::3', '2001:db8::ffff:4'].entries()) {
        statuses.push((await loginFrom(app, ip, `user${i}@example.com`, 'Guess-0')).statusCode)
      }
      t.same(statuses, [401, 401, 401, 429], 'four addresses of one /64 share one count')
      t.equal((await loginFrom(app, '2001:db8:0:1::1', 'other@example.com', 'Guess-0')).statusCode, 401, 'the next /64 is another client')
    })

    t.test('1,000 refused logins from one address write no row', async (t) => {
      const { app } = await setup(dialect, { loginRateLimit: { maxAttemptsPerIp: 3 } })
      t.teardown(() => app.close())
      const ip = '198.51.100.20'
      for (let i = 0; i < 3; i++) await loginFrom(app, ip, `seed${i}@example.com`, 'Guess-0')
      const before = await rows(app, 'auth_login_attempts')
      const statuses = new Map<number, number>()
      for (let batch = 0; batch < 20; batch++) {
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => loginFrom(app, ip, `flood${batch * 50 + i}@example.com`, 'Guess-0')))
        for (const res of results) statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      }
      t.same([...statuses], [[429, 1000]], 'every one refused')
      t.equal(await rows(app, 'auth_login_attempts'), before, 'the attempts table did not grow')
    })
  })
}
