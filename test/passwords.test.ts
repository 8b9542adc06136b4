import { readdirSync, readFileSync } from 'node:fs'
import bcrypt from 'bcrypt'
import t from 'tap'
import { BcryptWorkers, bcryptWorkers } from '../src/service/bcrypt-workers.ts'
import {
  AuthService, InvalidPasswordError, defaultValidators, minimumLength, notCommon, notNumeric, notSimilarToEmail,
  type PasswordValidator
} from '../src/index.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'

async function failures (auth: AuthService, email: string, password: string): Promise<InvalidPasswordError> {
  const err = await auth.register(email, password).then(() => null, (e: unknown) => e)
  if (!(err instanceof InvalidPasswordError)) throw new Error(`expected InvalidPasswordError, got ${String(err)}`)
  return err
}

/** CPU time (clock ticks) each thread of this process has used so far, by thread id (Linux). */
function threadTicks (): Map<string, number> {
  const ticks = new Map<string, number>()
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks.set(tid, Number(fields[11]) + Number(fields[12]))
  }
  return ticks
}

t.test('bcrypt cost comes from the config (default 12), and the hashing runs on other threads than the event loop\'s', async (t) => {
  const auth = new AuthService({ database: ':memory:', secret: SECRET })
  t.teardown(() => auth.close())
  t.equal(auth.config.bcryptRounds, 12)
  const before = threadTicks()
  const user = await auth.register('cost@example.com', PASSWORD)
  await auth.login('cost@example.com', PASSWORD)
  const after = threadTicks()
  const hash = (await auth.store.users.findById(user.id))?.passwordHash
  t.match(hash, /^\$2b\$12\$/)
  if (process.platform !== 'linux') return
  // Observed on the threads themselves: two cost-12 operations' CPU time lands on the hashing threads, while
  // the main thread (tid = pid) does a small fraction of it. Were bcrypt on the main thread, it would be most.
  const spent = (tid: string) => (after.get(tid) ?? 0) - (before.get(tid) ?? 0)
  const main = spent(String(process.pid))
  const others = [...after.keys()].filter((tid) => tid !== String(process.pid)).reduce((sum, tid) => sum + spent(tid), 0)
  t.ok(others > 0, `the other threads used ${others} ticks`)
  t.ok(main * 3 < others, `the main thread used ${main} ticks, under a third of the other threads' ${others}`)
})

t.test('default validators: each message, all failures collected in one error', async (t) => {
  const auth = new AuthService({ database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  t.teardown(() => auth.close())
  t.same((await failures(auth, 'a@example.com', '1234567')).errors, [
    'Password must be at least 8 characters long',
    'Password must not be entirely numeric',
    'Password is too common'
  ])
  t.same((await failures(auth, 'a@example.com', '84937261')).errors, ['Password must not be entirely numeric'])
  t.same((await failures(auth, 'a@example.com', 'password1')).errors, ['Password is too common'])
  t.same((await failures(auth, 'a@example.com', 'PaSsWoRd')).errors, ['Password is too common'], 'case-insensitive')
  t.same((await failures(auth, 'jonathan.smith@example.com', 'jonathan.smith1')).errors, ['Password is too similar to the email'])
  t.same((await failures(auth, 'jonathan.smith@example.com', 'Jonathansmith')).errors, ['Password is too similar to the email'])
  const tooLong = await failures(auth, 'a@example.com', 'é'.repeat(37))
  t.equal(tooLong.code, 'password_too_long', '74 UTF-8 bytes (37 characters) is too long for bcrypt')
  t.match(tooLong.errors[0], /72 bytes/)
  t.ok(await auth.register('b@example.com', 'é'.repeat(36)), 'exactly 72 bytes is fine')
  t.ok(await auth.register('c@example.com', 'Tr0ub4dor&3-horse'))
})

t.test('the common-password list is the zxcvbn passwords-common dictionary', async (t) => {
  const check = notCommon()
  for (const common of ['123456', 'qwerty', 'iloveyou', 'dragon', 'monkey']) t.equal(check(common, {}), 'Password is too common', common)
  t.equal(check('v8#Lq2!zN0pW', {}), null)
  const { dictionary } = await import('@zxcvbn-ts/language-common')
  t.ok(dictionary['passwords-common'].length > 40000, `${dictionary['passwords-common'].length} entries`)
})

t.test('validator building blocks', async (t) => {
  t.equal(minimumLength(4)('abc', {}), 'Password must be at least 4 characters long')
  t.equal(minimumLength(4)('abcd', {}), null)
  t.equal(minimumLength(3)('😀😀😀', {}), null, 'counts characters, not UTF-16 units')
  t.equal(notNumeric()('123a', {}), null)
  t.equal(notSimilarToEmail()('anything-goes', {}), null, 'no email, nothing to compare')
  t.equal(notSimilarToEmail()('completely-different', { email: 'zoe@example.com' }), null)
  t.equal(defaultValidators().length, 4)
})

t.test('applications can pass their own validator list', async (t) => {
  const mustHaveSymbol: PasswordValidator = (password) => /[^\w]/u.test(password) ? null : 'Password must contain a symbol'
  const auth = new AuthService({ database: ':memory:', secret: SECRET, bcryptRounds: 4, passwordValidators: [mustHaveSymbol] })
  t.teardown(() => auth.close())
  t.same((await failures(auth, 'a@example.com', 'abcdefgh')).errors, ['Password must contain a symbol'])
  t.ok(await auth.register('a@example.com', 'a!'), 'the defaults are replaced, not added to')
  t.equal((await failures(auth, 'b@example.com', 'x!'.repeat(40))).code, 'password_too_long', 'the bcrypt limit always holds')
})

t.test('at most hashConcurrency bcrypt operations run at once; the rest queue and all complete', async (t) => {
  const auth = new AuthService({ database: ':memory:', secret: SECRET, bcryptRounds: 4, hashConcurrency: 2, loginRateLimit: false })
  t.teardown(() => auth.close())
  const { availableParallelism } = await import('node:os')
  const defaults = new AuthService({ database: ':memory:', secret: SECRET })
  t.teardown(() => defaults.close())
  t.equal(defaults.config.hashConcurrency, Math.min(availableParallelism(), 4), 'default: one per CPU, at most 4')
  await auth.register('gate@example.com', PASSWORD)
  let running = 0
  let peak = 0
  const module = bcryptWorkers as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  const original = module.compare
  module.compare = async (...args: unknown[]) => {
    peak = Math.max(peak, ++running)
    try { return await original.apply(bcryptWorkers, args) } finally { running-- }
  }
  t.teardown(() => { module.compare = original })
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => auth.login('gate@example.com', i % 2 === 0 ? PASSWORD : 'Wrong-Password-1')))
  t.equal(peak, 2, 'never more than two at once')
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 4, 'every queued login still ran')
})

/** Nice value and scheduling policy (5 = SCHED_IDLE) of each thread of this process, by thread id (Linux). */
function threadPriorities (): Map<string, { nice: number, policy: number }> {
  const threads = new Map<string, { nice: number, policy: number }>()
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    threads.set(tid, { nice: Number(fields[16]), policy: Number(fields[38]) })
  }
  return threads
}

t.test('bcrypt runs on threads of its own, at normal priority by default and at idle priority when asked', { skip: process.platform !== 'linux' }, async (t) => {
  const { existsSync } = await import('node:fs')
  const pool = new BcryptWorkers()
  const before = new Set(threadPriorities().keys())
  const hash = await pool.hash(PASSWORD, 4)
  t.equal(await pool.compare(PASSWORD, hash), true)
  t.equal(await pool.compare('Wrong-Password-1', hash), false)
  t.ok(await bcrypt.compare(PASSWORD, hash), 'a real bcrypt hash')
  const normal = [...threadPriorities()].filter(([tid]) => !before.has(tid)).map(([, p]) => p)
  t.ok(normal.length > 0, 'the hashing ran on a new thread')
  t.ok(normal.every((p) => p.nice === 0 && p.policy === 0), 'at nice 0 and the normal policy')

  // The pool holds one thread: asking for the idle priority ends the normal one and starts an idle one.
  const seen = new Set(threadPriorities().keys())
  t.equal(await pool.compare(PASSWORD, hash, 'idle'), true)
  const idle = [...threadPriorities()].filter(([tid]) => !seen.has(tid)).map(([, p]) => p)
  t.ok(idle.some((p) => p.nice === 19), 'an idle-priority hashing thread runs at nice 19')
  if (existsSync('/usr/bin/chrt') || existsSync('/bin/chrt')) {
    t.ok(idle.some((p) => p.nice === 19 && p.policy === 5), 'and SCHED_IDLE, since chrt is installed')
  }
  t.equal(await pool.compare(PASSWORD, hash), true, 'and back to normal on the next normal job')
  const main = threadPriorities().get(String(process.pid))!
  t.same([main.nice, main.policy], [0, 0], 'the event loop\'s thread keeps nice 0 and the normal policy')
})

t.test('hashThreads: normal by default, idle when configured, anything else refused naming the option', async (t) => {
  const seen: unknown[] = []
  const module = bcryptWorkers as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  const original = module.compare
  module.compare = async (...args: unknown[]) => { seen.push(args[2]); return await original.apply(bcryptWorkers, args) }
  t.teardown(() => { module.compare = original })
  for (const hashThreads of [undefined, 'idle'] as const) {
    const auth = new AuthService({ database: ':memory:', secret: SECRET, bcryptRounds: 4, hashThreads })
    t.equal(auth.config.hashThreads, hashThreads ?? 'normal')
    await auth.register(`threads-${hashThreads ?? 'default'}@example.com`, PASSWORD)
    await auth.login(`threads-${hashThreads ?? 'default'}@example.com`, PASSWORD)
    auth.close()
  }
  t.same(seen, ['normal', 'idle'], 'each login compared on the threads its service asked for')
  t.throws(() => new AuthService({ database: ':memory:', secret: SECRET, hashThreads: 'low' as 'idle' }), /`hashThreads` must be one of 'normal', 'idle'/)
})

t.test('a bcrypt error rejects that call only; the pool keeps serving', async (t) => {
  await t.rejects(bcryptWorkers.hash(PASSWORD, 'not-rounds' as unknown as number), Error)
  t.equal(await bcryptWorkers.compare(PASSWORD, await bcryptWorkers.hash(PASSWORD, 4)), true)
})

t.test('a hashing thread that dies fails its job, and the next job gets a new thread', async (t) => {
  const pool = new BcryptWorkers(`
    const { parentPort } = require('node:worker_threads')
    parentPort.on('message', (job) => { if (job.data === 'die') process.exit(3); parentPort.postMessage({ value: job.data.length }) })
  `)
  await t.rejects(pool.hash('die', 4), /exit code 3/)
  t.equal(await pool.hash('abcd', 4), 4)
  const broken = new BcryptWorkers('throw new Error("cannot start")')
  await t.rejects(broken.compare('x', 'y'), /cannot start/)
})

t.test('queued jobs beyond the reserved threads wait their turn and all complete', async (t) => {
  const pool = new BcryptWorkers(`
    const { parentPort } = require('node:worker_threads')
    parentPort.on('message', (job) => setTimeout(() => parentPort.postMessage({ value: job.data }), 20))
  `)
  pool.reserve(2)
  const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((value) => pool.hash(value, 4)))
  t.same(results, ['a', 'b', 'c', 'd', 'e'])
})

t.test('a hashing thread that stops while idle is replaced on the next job', async (t) => {
  const pool = new BcryptWorkers(`
    const { parentPort } = require('node:worker_threads')
    parentPort.on('message', (job) => { parentPort.postMessage({ value: job.data }); setTimeout(() => process.exit(0), 10) })
  `)
  t.equal(await pool.hash('first', 4), 'first')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(await pool.hash('second', 4), 'second')
})
