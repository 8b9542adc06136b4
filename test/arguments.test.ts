/**
 * Bad arguments to the framework-free API: every public AuthService method, called with undefined, null, a
 * number, an object and an array in each argument, answers with an AuthError below 500 (or, for logout, does
 * nothing), never a TypeError and never a false "store unavailable".
 */
import t from 'tap'
import { AuthError, AuthService, InvalidArgumentError, InvalidEmailError, InvalidPasswordError } from '../src/index.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'

const BAD: Array<[string, unknown]> = [['undefined', undefined], ['null', null], ['a number', 12345678], ['an object', {}], ['an array', []]]

type Call = (auth: AuthService, args: unknown[]) => Promise<unknown> | unknown

/** Each method with good arguments; `optional` arguments may be undefined. */
const METHODS: Array<{ name: string, args: unknown[], optional?: number[], call: Call, expect?: Array<new (...a: never[]) => AuthError> }> = [
  { name: 'register', args: ['new@example.com', PASSWORD, {}, {}], optional: [2, 3], call: (a, x) => a.register(...(x as Parameters<AuthService['register']>)) },
  { name: 'login', args: ['alice@example.com', PASSWORD, {}], optional: [2], call: (a, x) => a.login(...(x as Parameters<AuthService['login']>)) },
  { name: 'authenticate', args: ['a.b.c'], call: (a, x) => a.authenticate(x[0] as string) },
  { name: 'verifyAccessToken', args: ['a.b.c'], call: (a, x) => a.verifyAccessToken(x[0] as string) },
  { name: 'refresh', args: ['x'.repeat(43)], call: (a, x) => a.refresh(x[0] as string) },
  { name: 'logoutAll', args: ['id'], call: (a, x) => a.logoutAll(x[0] as string) },
  { name: 'checkPassword', args: ['id', PASSWORD], call: (a, x) => a.checkPassword(x[0] as string, x[1] as string) },
  { name: 'setPassword', args: ['id', PASSWORD, {}], optional: [2], call: (a, x) => a.setPassword(x[0] as string, x[1] as string, x[2] as object) },
  {
    name: 'changePassword',
    args: [{ id: 'id' }, PASSWORD, 'Another-Strong-Pass-2', {}],
    optional: [3],
    call: (a, x) => a.changePassword(x[0] as { id: string }, x[1] as string, x[2] as string, x[3] as object)
  },
  { name: 'deactivate', args: ['id'], call: (a, x) => a.deactivate(x[0] as string) },
  { name: 'activate', args: ['id'], call: (a, x) => a.activate(x[0] as string) },
  { name: 'getUser', args: ['id'], call: (a, x) => a.getUser(x[0] as string) },
  { name: 'on', args: ['user_login', () => {}], call: (a, x) => a.on(x[0] as 'user_login', x[1] as () => void) }
]

t.test('every public method, every argument, every wrong type: an AuthError below 500, never a TypeError', async (t) => {
  const logged: string[] = []
  const auth = new AuthService({
    database: ':memory:',
    secret: SECRET,
    bcryptRounds: 4,
    registrationRateLimit: false,
    logger: { warn: (_o, m) => { logged.push(String(m)) }, error: (_o, m) => { logged.push(String(m)) } }
  })
  t.teardown(() => auth.close())
  await auth.ready()
  await auth.register('alice@example.com', PASSWORD)
  let cases = 0
  for (const method of METHODS) {
    for (let position = 0; position < method.args.length; position++) {
      for (const [label, value] of BAD) {
        // Optional options and fields objects may be absent, and an empty object is a good one.
        if ((value === undefined || label === 'an object') && method.optional?.includes(position)) continue
        const args = [...method.args]
        args[position] = value
        let outcome: unknown
        try {
          outcome = await method.call(auth, args)
        } catch (err) {
          outcome = err
        }
        cases++
        const where = `${method.name}: argument ${position + 1} as ${label}`
        // login takes anything as credentials: not a string is simply wrong credentials.
        if (method.name === 'login' && position < 2) {
          t.match(outcome, { code: 'invalid_credentials', statusCode: 401 }, where)
          continue
        }
        t.ok(outcome instanceof AuthError, `${where}: ${String(outcome)}`)
        t.ok((outcome as AuthError).statusCode < 500, `${where}: ${(outcome as AuthError).statusCode}`)
      }
    }
  }
  t.ok(cases > 100, `${cases} calls`)
  t.same(logged.filter((line) => /store failed/.test(line)), [], 'no call was taken for a store failure')
})

t.test('the errors say what to pass', async (t) => {
  const auth = new AuthService({ database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  t.teardown(() => auth.close())
  await t.rejects(auth.register('a@example.com', undefined as unknown as string), InvalidPasswordError)
  await t.rejects(auth.register('a@example.com', 12345678 as unknown as string), { errors: ['`password` must be a string'] })
  await t.rejects(auth.register(undefined as unknown as string, PASSWORD), InvalidEmailError)
  await t.rejects(auth.setPassword(undefined as unknown as string, PASSWORD), { message: /`userOrId` must be a user id/, statusCode: 400, code: 'invalid_argument' })
  await t.rejects(auth.getUser({} as unknown as string), InvalidArgumentError)
  await t.rejects(auth.register('a@example.com', PASSWORD, [] as unknown as Record<string, unknown>), { message: '`fields` must be an object' })
  t.throws(() => auth.on('no_such_event' as 'user_login', () => {}), { message: /Unknown event 'no_such_event'/ })
  await t.resolves(auth.logout(undefined as unknown as string), 'logout never throws')
  await t.resolves(auth.logout({} as unknown as string))
})

t.test('the store is read once open; verifyAccessToken refuses a callback that is not a function', async (t) => {
  const auth = new AuthService({ database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  t.teardown(() => auth.close())
  t.throws(() => auth.store, { code: 'configuration_error', message: /await authService.ready\(\) first/ }, 'still opening')
  await auth.ready()
  t.equal(auth.store.dialect, 'sqlite')
  t.throws(() => auth.verifyAccessToken('a.b.c', 'callback' as unknown as () => void), InvalidArgumentError)
  await t.rejects(auth.login('a@example.com', PASSWORD, { ip: 42 as unknown as string }), { code: 'invalid_argument', message: '`options.ip` must be a string when given' })
  await t.rejects(auth.register('a@example.com', PASSWORD, {}, 'options' as unknown as object), { message: '`options` must be an object' })
  t.equal((await auth.register('a@example.com', PASSWORD, {}, { ip: null })).email, 'a@example.com', 'a null address is no address')
})
