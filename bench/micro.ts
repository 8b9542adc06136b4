/**
 * `npm run bench:micro`: each hand-written part beside the library that could replace it, measured side by side
 * in one run, interleaved rounds (issue: "hand-written code that a well-kept library does"). Prints a table and
 * writes bench/results/micro.json. Run on demand, never in `npm test`.
 *
 *  1. verified-token memory (AccessTokenCodec's Map) vs fast-jwt's own `cache` option;
 *  2. bcrypt on our low-priority threads vs bcrypt's asynchronous API (libuv's pool), while the event loop
 *     has work of its own to do;
 *  3. the typed event emitter vs node:events;
 *  4. the email-similarity validator vs @zxcvbn-ts/core with the email as `userInputs`.
 */
import { EventEmitter } from 'node:events'
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import bcrypt from 'bcrypt'
import { ZxcvbnFactory } from '@zxcvbn-ts/core'
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common'
import { createVerifier } from 'fast-jwt'
import { AuthEventEmitter } from '../src/service/events.ts'
import { bcryptWorkers } from '../src/service/bcrypt-workers.ts'
import { AccessTokenCodec } from '../src/service/tokens.ts'
import { notSimilarToEmail } from '../src/service/validators.ts'

const ROUNDS = Number(process.env.MICRO_ROUNDS ?? 3)
const results: Record<string, Array<Record<string, number>>> = {}
const record = (name: string, row: Record<string, number>) => { (results[name] ??= []).push(row) }

/** Nanoseconds per call of `fn`, over `count` calls after a warm-up. */
function perCall (fn: () => unknown, count: number): number {
  for (let i = 0; i < Math.min(count, 2000); i++) fn()
  const start = process.hrtime.bigint()
  for (let i = 0; i < count; i++) fn()
  return Number(process.hrtime.bigint() - start) / count
}

// 1. Verified-token memory.
const secret = Buffer.from('micro-benchmark-secret-of-at-least-32-bytes')
const codec = new AccessTokenCodec({ secret, algorithm: 'HS256', issuer: undefined, audience: undefined, accessTokenTtl: 900, clockSkewSeconds: 30, clock: Date.now })
const tokens = Array.from({ length: 1000 }, (_, i) => codec.sign('user', `session-${i}`))
const common = { key: secret, algorithms: ['HS256' as const], complete: true, requiredClaims: ['exp', 'iat', 'sub', 'sid', 'jti', 'typ'] }
const fastJwtCached = createVerifier({ ...common, cache: 10_000 })
const fastJwtIdentityKey = createVerifier({ ...common, cache: 10_000, cacheKeyBuilder: (token: string) => token })
const uncached = createVerifier(common)
let n = 0
const next = () => tokens[n++ % tokens.length]

// 2. bcrypt while the event loop works: how much of its own work the loop gets done, and its delay.
async function bcryptUnderLoad (run: (hash: string) => Promise<unknown>, hash: string): Promise<{ perSecond: number, loopWork: number, p99Ms: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  let loopWork = 0
  let busy = true
  // The event loop's own work: 0.2 ms slices, as requests would be.
  const spin = () => {
    if (!busy) return
    const end = process.hrtime.bigint() + 200_000n
    while (process.hrtime.bigint() < end) { /* a request's CPU */ }
    loopWork++
    setImmediate(spin)
  }
  setImmediate(spin)
  const started = Date.now()
  await Promise.all(Array.from({ length: 32 }, () => run(hash)))
  const seconds = (Date.now() - started) / 1000
  busy = false
  histogram.disable()
  return { perSecond: 32 / seconds, loopWork: loopWork / seconds, p99Ms: histogram.percentile(99) / 1e6 }
}

// 3. Emitters.
const ours = new AuthEventEmitter({ warn: () => {}, error: () => {} })
ours.on('password_changed', () => {})
const nodeEvents = new EventEmitter()
nodeEvents.on('password_changed', () => {})
const payload = { userId: 'user' }

// 4. Similarity to the email.
const factory = new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs })
const zxcvbn = (password: string, userInputs: string[]) => factory.check(password, userInputs)
const similar = notSimilarToEmail()
const email = 'jonathan.smith@example.com'
const passwords = ['jonathan.smith1', 'Jonathansmith', 'Correct-Horse-9-Battery', 'smith2024!', 'Tr0ub4dor&3-horse']

for (let round = 1; round <= ROUNDS; round++) {
  record('verified-token memory, ns per verify of a repeated token', {
    ours: perCall(() => codec.verify(next()), 200_000),
    fastJwtCache: perCall(() => fastJwtCached(next()), 200_000),
    fastJwtCacheIdentityKey: perCall(() => fastJwtIdentityKey(next()), 200_000),
    noCache: perCall(() => uncached(next()), 50_000)
  })
  const hash = await bcrypt.hash('Correct-Horse-9-Battery', 10)
  bcryptWorkers.reserve(2)
  const pool = await bcryptUnderLoad((h) => bcryptWorkers.compare('Correct-Horse-9-Battery', h), hash)
  const libuv = await bcryptUnderLoad((h) => bcrypt.compare('Correct-Horse-9-Battery', h), hash)
  record('bcrypt cost 10, 32 compares while the event loop has 0.2 ms jobs', {
    oursPerSecond: pool.perSecond,
    oursLoopJobsPerSecond: pool.loopWork,
    oursLoopDelayP99Ms: pool.p99Ms,
    libuvPerSecond: libuv.perSecond,
    libuvLoopJobsPerSecond: libuv.loopWork,
    libuvLoopDelayP99Ms: libuv.p99Ms
  })
  record('event emitter, ns per emit with one listener', {
    ours: perCall(() => { ours.emit('password_changed', payload) }, 1_000_000),
    nodeEvents: perCall(() => nodeEvents.emit('password_changed', payload), 1_000_000)
  })
  let i = 0
  record('password similar to the email, µs per check', {
    ours: perCall(() => similar(passwords[i++ % passwords.length], { email }), 20_000) / 1000,
    zxcvbnUserInputs: perCall(() => zxcvbn(passwords[i++ % passwords.length], [email, 'jonathan', 'smith']), 200) / 1000
  })
}

// What each refuses, side by side (zxcvbn: refused when its score is under 3 with the email as user input).
const verdicts = passwords.map((password) => ({
  password,
  ours: similar(password, { email }) !== null,
  zxcvbnScore: zxcvbn(password, [email, 'jonathan', 'smith']).score
}))

// A listener that throws: our emitter logs it; node:events hands it to the caller.
let nodeEventsThrew = false
nodeEvents.on('boom', () => { throw new Error('listener failed') })
try { nodeEvents.emit('boom') } catch { nodeEventsThrew = true }

const median = (rows: Array<Record<string, number>>, key: string) => rows.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(rows.length / 2)]
for (const [name, rows] of Object.entries(results)) {
  console.log(`\n${name} (median of ${rows.length} rounds)`)
  for (const key of Object.keys(rows[0])) console.log(`  ${key.padEnd(28)} ${median(rows, key).toFixed(2)}`)
}
console.log('\nverdicts', verdicts)
console.log('node:events emit throws a listener error to the caller:', nodeEventsThrew)
writeFileSync(new URL('./results/micro.json', import.meta.url), JSON.stringify({ results, verdicts, nodeEventsThrew }, null, 2))
process.exit(0)
