import t from 'tap'
import { PASSWORD, buildApp as buildAppOn, login, testDatabase } from './fixtures/app.ts'
import { spyBcrypt } from './fixtures/bcrypt-spy.ts'
import { availableDialects } from './fixtures/databases.ts'

// One suite, run once per dialect the machine has (PostgreSQL is required under CI).
for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    const buildApp = (options: Parameters<typeof buildAppOn>[0] = {}, fastifyOptions: Parameters<typeof buildAppOn>[1] = {}) =>
      buildAppOn(options, fastifyOptions, dialect)

    type App = Awaited<ReturnType<typeof buildApp>>
    const post = (app: App, url: string, payload: unknown, headers: Record<string, string> = {}) =>
      app.inject({ method: 'POST', url, payload: payload as string, headers })

    t.test('no user enumeration: one bcrypt comparison at the configured cost, byte-identical 401 bodies', async (t) => {
      const app = await buildApp({ bcryptRounds: 5 })
      t.teardown(() => app.close())
      await post(app, '/register', { email: 'wrong@example.com', password: PASSWORD })
      await post(app, '/register', { email: 'inactive@example.com', password: PASSWORD })
      await post(app, '/register', { email: 'nopassword@example.com', password: PASSWORD })
      const inactive = await app.authService.store.users.findByEmail('inactive@example.com')
      await app.authService.deactivate(inactive!.id)
      const passwordless = await app.authService.store.users.findByEmail('nopassword@example.com')
      await app.authService.store.users.update(passwordless!.id, { passwordHash: null }, new Date())
      await app.authService.login('x@example.com', 'warm-up').catch(() => {}) // the dummy hash is prepared once

      const calls = spyBcrypt(t)
      const bodies = new Set<string>()
      const cases: Array<[string, string]> = [
        ['unknown@example.com', PASSWORD],
        ['wrong@example.com', 'Wrong-Password-99'],
        ['inactive@example.com', PASSWORD],
        ['nopassword@example.com', PASSWORD]
      ]
      for (const [email, password] of cases) {
        calls.compare.length = 0
        const res = await post(app, '/login', { email, password })
        t.equal(res.statusCode, 401, email)
        t.same(calls.compare, [5], `${email}: exactly one comparison, at cost 5`)
        bodies.add(res.body)
      }
      t.equal(bodies.size, 1, 'byte-identical bodies')
      t.equal([...bodies][0], '{"detail":"Invalid credentials","code":"invalid_credentials"}')
      t.equal(calls.hash, 0, 'no hashing on login')
    })

    t.test('passwords over 72 UTF-8 bytes are refused (register and password change); no truncated match; NUL kept', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const long = `${'Ab9!'.repeat(18)}x` // 73 bytes
      const res = await post(app, '/register', { email: 'long@example.com', password: long })
      t.equal(res.statusCode, 422)
      t.equal(res.json().code, 'password_too_long')
      t.equal(await app.authService.store.users.findByEmail('long@example.com'), undefined, 'no row')
      const multibyte = await post(app, '/register', { email: 'long@example.com', password: 'ü'.repeat(37) })
      t.equal(multibyte.json().code, 'password_too_long', '37 two-byte characters are 74 bytes')

      const exactly72 = 'Ab9!'.repeat(18)
      t.equal((await post(app, '/register', { email: 'edge@example.com', password: exactly72 })).statusCode, 201)
      t.equal((await post(app, '/login', { email: 'edge@example.com', password: `${exactly72}tail` })).statusCode, 401,
        'a longer password whose first 72 bytes match never logs in')
      const { accessToken } = await login(app, 'edge@example.com', exactly72)
      const change = await app.inject({ method: 'POST', url: '/password', headers: { authorization: `Bearer ${accessToken}` }, payload: { current_password: exactly72, new_password: long } })
      t.equal(change.statusCode, 422)
      t.equal(change.json().code, 'password_too_long')

      const withNul = 'Correct-Horse\u0000battery-staple-9'
      t.equal((await post(app, '/register', { email: 'nul@example.com', password: withNul })).statusCode, 201)
      t.equal((await post(app, '/login', { email: 'nul@example.com', password: 'Correct-Horse' })).statusCode, 401, 'not truncated at NUL')
      t.equal((await post(app, '/login', { email: 'nul@example.com', password: 'Correct-Horse\u0000other-ending-99' })).statusCode, 401)
      t.equal((await post(app, '/login', { email: 'nul@example.com', password: withNul })).statusCode, 200)
    })

    t.test('email normalization: case, padding and fullwidth collide; dotless i and Cyrillic look-alikes do not', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      t.equal((await post(app, '/register', { email: 'alice@example.com', password: PASSWORD })).statusCode, 201)
      for (const email of ['Alice@Example.com', ' alice@example.com ', 'ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ', 'ALICE@EXAMPLE.COM']) {
        const dup = await post(app, '/register', { email, password: PASSWORD })
        t.equal(dup.statusCode, 409, `register ${JSON.stringify(email)}`)
        t.equal((await post(app, '/login', { email, password: PASSWORD })).statusCode, 200, `login ${JSON.stringify(email)}`)
      }
      for (const email of ['alıce@example.com', 'аlice@example.com']) {
        const res = await post(app, '/register', { email, password: PASSWORD })
        t.equal(res.statusCode, 201, `${JSON.stringify(email)} is another account`)
        t.not(res.json().email, 'alice@example.com')
      }
    })

    t.test('bad bodies: 400/413/415 fast, with no hashing and no row written', async (t) => {
      const app = await buildApp()
      t.teardown(() => app.close())
      const calls = spyBcrypt(t)
      const json = { 'content-type': 'application/json' }
      const cases: Array<[string, unknown, Record<string, string>?]> = [
        ['numeric password', { email: 'v@example.com', password: 12345678 }],
        ['boolean password', { email: 'v@example.com', password: false }],
        ['array password', { email: 'v@example.com', password: [PASSWORD] }],
        ['object password', { email: 'v@example.com', password: { toString: PASSWORD } }],
        ['role', { email: 'v@example.com', password: PASSWORD, role: 'admin' }],
        ['id', { email: 'v@example.com', password: PASSWORD, id: 'x' }],
        ['is_active', { email: 'v@example.com', password: PASSWORD, is_active: false }],
        ['password_hash', { email: 'v@example.com', password: PASSWORD, password_hash: '$2b$04$x' }],
        ['__proto__', `{"email":"v@example.com","password":"${PASSWORD}","__proto__":{"isActive":false}}`, json],
        ['constructor.prototype', `{"email":"v@example.com","password":"${PASSWORD}","constructor":{"prototype":{"a":1}}}`, json],
        ['form content type', 'email=v%40example.com', { 'content-type': 'application/x-www-form-urlencoded' }],
        ['text content type', 'hello', { 'content-type': 'text/plain' }],
        ['empty JSON', '', json],
        ['truncated JSON', '{"email":"v@example.com","pass', json],
        ['1 MB password', { email: 'v@example.com', password: 'x'.repeat(1024 * 1024) }],
        ['email over 254', { email: `${'v'.repeat(250)}@example.com`, password: PASSWORD }],
        ['email with CR', { email: 'v@example.com\r', password: PASSWORD }],
        ['email with LF', { email: 'v@example.com\nX-Injected: 1', password: PASSWORD }],
        ['email with NUL', { email: 'v\u0000@example.com', password: PASSWORD }]
      ]
      for (const [name, payload, headers] of cases) {
        for (const url of ['/register', '/login']) {
          const res = await post(app, url, payload, headers)
          t.ok([400, 413, 415].includes(res.statusCode), `${url} ${name}: ${res.statusCode}`)
          t.type(res.json().code, 'string', `${url} ${name}: a code`)
        }
      }
      t.same(calls, { compare: [], hash: 0 }, 'no hashing')
      t.equal(await app.authService.store.users.findByEmail('v@example.com'), undefined, 'no row written')
    })

    t.test('duplicate registration race: 20 parallel registrations of one email, one 201, nineteen 409, one row', async (t) => {
      // More than one address's registration allowance: the race is what is under test here.
      const app = await buildApp({ registrationRateLimit: { maxPerIp: 100 } })
      t.teardown(() => app.close())
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        post(app, '/register', { email: i % 2 === 0 ? 'race@example.com' : 'RACE@example.com', password: PASSWORD })))
      const statuses = results.map((r) => r.statusCode).sort()
      t.same(statuses, [201, ...Array(19).fill(409)])
      for (const r of results.filter((r) => r.statusCode === 409)) t.equal(r.json().code, 'email_taken')
      t.same(await testDatabase(app).query('select count(*) as n from auth_users'), [{ n: testDatabase(app).dialect === 'sqlite' ? 1 : '1' }], 'one row')
    })
  })
}
