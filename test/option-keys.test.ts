import Fastify from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, { AuthService, ConfigurationError, configure } from '../src/index.ts'
import { SECRET } from './fixtures/app.ts'

const BASE = { database: ':memory:', secret: SECRET }

t.test('a misspelt option at any depth fails ready() with its path and the key it probably meant', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ requireVerifiedEmails: true }, /unknown option `requireVerifiedEmails`: did you mean `requireVerifiedEmail`\?/],
    [{ routes: { registerFeilds: {} } }, /unknown option `routes\.registerFeilds`: did you mean `routes\.registerFields`\?/],
    [{ csrf: { trustedOrigin: ['https://app.example'] } }, /unknown option `csrf\.trustedOrigin`: did you mean `csrf\.trustedOrigins`\?/],
    [{ loginRateLimit: { maxAttemptsPerIP: 3 } }, /unknown option `loginRateLimit\.maxAttemptsPerIP`: did you mean `loginRateLimit\.maxAttemptsPerIp`\?/],
    [{ cookies: { names: { acess: 'a' } } }, /unknown option `cookies\.names\.acess`: did you mean `cookies\.names\.access`\?/],
    [{ outbox: { pollInterval: 5 } }, /unknown option `outbox\.pollInterval`: did you mean `outbox\.pollIntervalMs`\?/],
    [{ tokenTransprt: 'both' }, /did you mean `tokenTransport`\?/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => {
      await app.register(fastifyDrizzleAuth, { ...BASE, ...options } as never)
      await app.ready()
    }, { name: 'ConfigurationError', message }, Object.keys(options)[0])
    await app.close().catch(() => {})
  }
})

t.test('a key like no known one is refused with the list of known keys, and no guess', async (t) => {
  const app = Fastify()
  const err = await (async () => {
    await app.register(fastifyDrizzleAuth, { ...BASE, sessionCache: { enabled: true, flavour: 'x' } } as never)
    await app.ready()
  })().then(() => undefined, (e: unknown) => e as Error)
  await app.close().catch(() => {})
  t.type(err, ConfigurationError)
  t.match(err?.message, /unknown option `sessionCache\.flavour` \(known in `sessionCache`: enabled, maxStalenessMs\)/)
  t.notMatch(err?.message, /did you mean/)
})

t.test('AuthService and configure() refuse unknown keys too; every documented key and Fastify\'s own are accepted', async (t) => {
  t.throws(() => new AuthService({ ...BASE, bcryptRound: 4 } as never), /unknown option `bcryptRound`: did you mean `bcryptRounds`\?/)
  t.throws(() => configure({ ...BASE, mailRateLimit: { perRecipient: 1 } } as never), /unknown option `mailRateLimit\.perRecipient`/)
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, {
    ...BASE,
    bcryptRounds: 4,
    logLevel: 'warn',
    routes: { prefix: '/auth', bodyLimit: 4096, tags: ['auth'] },
    tokenTransport: 'both',
    cookies: { names: { access: 'a', refresh: 'r', csrf: 'c' }, sameSite: { access: 'lax', refresh: 'strict' } },
    secureCookies: false,
    csrf: { trustedOrigins: ['https://app.example'], allowSameSite: true },
    loginRateLimit: { maxAttemptsPerEmail: 3, windowSeconds: 60 },
    registrationRateLimit: false,
    hashThreads: 'normal'
  } as never)
  t.teardown(() => app.close())
  await app.ready()
  t.equal(app.authService.config.bcryptRounds, 4)
})

t.test('a group given as something else than an object, and a store missing its facets, are refused saying what to pass', async (t) => {
  const base = { database: ':memory:', secret: 'x'.repeat(32) }
  t.throws(() => new AuthService({ ...base, loginRateLimit: 5 as never }),
    { code: 'configuration_error', message: /`loginRateLimit` must be an object \{ maxAttemptsPerEmail, .* \} or false$/ })
  t.throws(() => new AuthService({ ...base, outbox: 'fast' as never }), { message: /`outbox` must be an object \{ maxAttempts, .* \}$/ })
  const facets = { users: {}, sessions: {}, limits: {}, devices: {}, actions: {}, maintenance: {} }
  for (const [store, reason] of [
    [5, 'not an object'], [{ mode: 'sync' }, 'no `users`, `sessions`, `limits`, `devices`, `actions`, `maintenance` facet'],
    [{ mode: 'async', ...facets }, 'no `sessions.find`']
  ] as const) {
    t.throws(() => new AuthService({ secret: base.secret, store: store as never }), { message: `\`store\` must be an AuthStore (${reason})` }, reason)
  }
})
