/** TRUST_PROXY takes a hop count or addresses, never "trust every hop". */
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { tempDir } from './fixtures/temp.ts'
import { buildServer, trustProxyFrom } from '../examples/server.ts'

async function server (t: Test, trustProxy: string) {
  const dir = tempDir(t, 'fda-proxy-')
  const app = await buildServer({
    DATABASE_PATH: join(dir, 'auth.sqlite'), AUTH_SECRET: 'proxy-example-secret-of-32-bytes!!', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', TRUST_PROXY: trustProxy
  })
  t.teardown(() => app.close())
  const limited: Array<string | null> = []
  app.authService.on('rate_limit_exceeded', (event) => { limited.push(event.ip) })
  return { app, limited }
}

const attempt = (app: Awaited<ReturnType<typeof buildServer>>, forwardedFor: string, remoteAddress = '127.0.0.1') =>
  app.inject({ method: 'POST', url: '/login', remoteAddress, headers: { 'x-forwarded-for': forwardedFor }, payload: { email: 'victim@example.com', password: 'Wrong-Pass-1' } })

t.test('TRUST_PROXY=1: the address is the one the proxy saw, whatever the client wrote before it', async (t) => {
  const { app, limited } = await server(t, '1')
  const statuses = []
  for (let i = 0; i < 6; i++) statuses.push((await attempt(app, `192.0.2.${i}, 203.0.113.50`)).statusCode)
  t.same(statuses, [401, 401, 401, 401, 401, 429], 'a spoofed first hop buys no fresh count')
  t.same(limited, ['203.0.113.50'], 'the limit keyed on the real client')
  t.equal((await attempt(app, '192.0.2.77, 203.0.113.51')).statusCode, 401, 'another real client is counted apart')
})

t.test('TRUST_PROXY=1 behind a proxy that writes ports and other spellings: one client, one count', async (t) => {
  const { app, limited } = await server(t, '1')
  const spellings = ['203.0.113.9:50001', '203.0.113.9:50002', '[::ffff:203.0.113.9]:50003', '::ffff:cb00:7109', '0:0:0:0:0:ffff:cb00:7109', '203.0.113.9:50006']
  const statuses = []
  for (const spelling of spellings) statuses.push((await attempt(app, spelling)).statusCode)
  t.same(statuses, [401, 401, 401, 401, 401, 429], 'every port and spelling of one address shares its count')
  t.equal(limited.length, 1)
  const garbage = []
  for (let i = 0; i < 6; i++) garbage.push((await attempt(app, `garbage-${i}`)).statusCode)
  t.same(garbage, [401, 401, 401, 401, 401, 429], 'what is not an address shares one bucket')
})

t.test('TRUST_PROXY with addresses: only those proxies are believed', async (t) => {
  const { app, limited } = await server(t, '127.0.0.1, 10.0.0.0/8')
  for (let i = 0; i < 6; i++) await attempt(app, `192.0.2.${i}, 203.0.113.60`, '10.2.3.4')
  t.same(limited, ['203.0.113.60'])
  for (let i = 0; i < 6; i++) await attempt(app, `203.0.113.${70 + i}`, '198.51.100.1')
  t.same(limited, ['203.0.113.60', '198.51.100.1'], 'a client that is not one of them is counted by its own address')
})

t.test('TRUST_PROXY=true is refused with the reason, and so is something that is not an address', async (t) => {
  for (const value of ['true', 'TRUE', 'yes', '*']) {
    t.throws(() => trustProxyFrom(value), /would trust every X-Forwarded-For hop, so any client could pick its own address/, value)
  }
  t.throws(() => trustProxyFrom('proxy.internal'), /'proxy.internal' is not an IP address or CIDR/)
  t.throws(() => trustProxyFrom('10.0.0.0/40'), /'10.0.0.0\/40' is not an IP address or CIDR/)
  t.same(trustProxyFrom('127.0.0.1,::1,10.0.0.0/8, fd00::/8'), ['127.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8'])
  t.equal(trustProxyFrom(undefined), undefined)
  t.equal(trustProxyFrom(' '), undefined)
  await t.rejects(buildServer({ TRUST_PROXY: 'true', LOG_LEVEL: 'silent', DATABASE_PATH: ':memory:' }), /TRUST_PROXY=true would trust every/)
})

t.test('without TRUST_PROXY, X-Forwarded-For is ignored', async (t) => {
  const { app, limited } = await server(t, '')
  for (let i = 0; i < 6; i++) await attempt(app, `192.0.2.${i}`, '198.51.100.2')
  t.same(limited, ['198.51.100.2'])
})
