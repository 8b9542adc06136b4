/**
 * `npm run bench [-- --quick]`: the cost of authentication per request, per login, and as the tables grow.
 *
 * One real Fastify process (bench/server.ts: the plugin on an SQLite file, as `npm start`) is started here and
 * loaded from this process with autocannon on 127.0.0.1. Scenarios run interleaved (A B C ... A B C ...) so
 * drift shows; each reports req/s, p50/p99 latency, non-2xx responses and the server's CPU microseconds per
 * request (from /proc/<pid>/stat). Ratios are checked against the targets and printed PASS/FAIL; the results
 * go to bench/results/latest.{json,md}. bcrypt runs at cost 10 to keep runs short.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import bcrypt from 'bcrypt'
import { AuthService } from '../src/index.ts'
import { migrate, openSqlite } from '../src/db/sqlite/index.ts'
import { newRefreshToken } from './refresh-token.ts'
import { CLK_TCK, cpuTicks, cpuTicksOf } from './cpu.ts'
import { listening } from './listening.ts'
import { pacedGet } from './paced.ts'

const QUICK = process.argv.includes('--quick')
const BCRYPT_COST = 10
const PASSWORD = 'Bench-Password-42!'
const SECRET = randomBytes(32).toString('hex')
const WINDOW = QUICK ? 2 : 4 // seconds per measured window
const ROUNDS = QUICK ? 1 : 2
const S5_WINDOW = 2 * WINDOW
const CONNECTIONS = 50
const LOGIN_CONNECTIONS = 16
const GROWTH = QUICK ? [1_000, 100_000] : [1_000, 1_000_000]
const MEMORY = QUICK ? [10_000, 100_000] : [10_000, 1_000_000]
// With --quick the growth and memory scenarios use 100,000 instead of 1,000,000 (rows, requests).

interface Measure {
  name: string
  rps: number
  p50: number
  p99: number
  non2xx: number
  cpuUsPerRequest: number
  requests: number
}

const dir = mkdtempSync(join(tmpdir(), 'fda-bench-'))
const databasePath = join(dir, 'auth.sqlite')
interface Server { child: ChildProcess, url: string, pid: number }
const children = new Set<ChildProcess>()
let server: Server

/** Every process this harness started, stopped: on success, on failure and on a signal. */
function stopServer (): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null) {
      try { process.kill(child.pid, 'SIGKILL') } catch {}
    }
  }
}
process.on('exit', () => { stopServer(); rmSync(dir, { recursive: true, force: true }) })
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { stopServer(); process.exit(130) })

function threadTicks (pid: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try { out[tid] = cpuTicksOf(`/proc/${pid}/task/${tid}/stat`) } catch {}
  }
  return out
}

/** The server's resident memory after a full garbage collection, so a reading is not one moment of the GC cycle. */
async function rssMiB (target: Server): Promise<number> {
  await fetch(`${target.url}/__bench/gc`)
  const status = readFileSync(`/proc/${target.pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024
}

async function startServer (path: string): Promise<Server> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/server.ts'], {
    env: { ...process.env, DATABASE_PATH: path, AUTH_SECRET: SECRET, BCRYPT_ROUNDS: String(BCRYPT_COST), PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  children.add(child)
  const url = await listening(child)
  return { child, url, pid: child.pid! }
}

async function stop (target: Server): Promise<void> {
  if (target.child.exitCode !== null) return
  const exited = new Promise((resolve) => target.child.once('exit', resolve))
  target.child.kill('SIGTERM')
  await exited
  children.delete(target.child)
}

/** Waits until the server is idle (under 5 % of a core for 200 ms): logins still queued from a window must not run into the next. */
async function settle (target: Server = server): Promise<void> {
  const pid = target.pid
  const deadline = Date.now() + 15_000
  let last = cpuTicks(pid)
  while (Date.now() < deadline) {
    await sleep(200)
    const now = cpuTicks(pid)
    if (now - last <= 1) return
    last = now
  }
}

type Options = Omit<autocannon.Options, 'url'> & { path?: string }

/** One autocannon window against the server, with the server's CPU time read around it. */
async function measure (name: string, options: Options, target: Server = server): Promise<Measure> {
  const pid = target.pid
  const before = cpuTicks(pid)
  const own = process.cpuUsage()
  const threadsBefore = process.env.BENCH_DEBUG === '1' ? threadTicks(pid) : {}
  const { path = '/', ...rest } = options
  const result = await autocannon({ url: `${target.url}${path}`, connections: CONNECTIONS, duration: WINDOW, ...rest })
  const ticks = cpuTicks(pid) - before
  const requests = result.requests.total
  if (process.env.BENCH_DEBUG === '1') {
    const used = process.cpuUsage(own)
    const after = threadTicks(pid)
    const perThread = Object.entries(after).map(([tid, v]) => `${tid === String(pid) ? 'main' : tid}:${((v - (threadsBefore[tid] ?? 0)) / CLK_TCK * 1e6 / requests).toFixed(1)}`).filter((e) => !e.endsWith(':0.0'))
    process.stderr.write(`${name}: harness ${((used.user + used.system) / requests).toFixed(1)} µs/req, server ${perThread.join(' ')}\n`)
  }
  return {
    name,
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors + result.timeouts,
    cpuUsPerRequest: requests === 0 ? 0 : (ticks / CLK_TCK) * 1e6 / requests,
    requests
  }
}

/** Raw bcrypt.compare throughput at the same cost and concurrency as the login scenario, in this process. */
async function bcryptCeiling (seconds: number): Promise<Measure> {
  const hash = await bcrypt.hash(PASSWORD, BCRYPT_COST)
  const end = Date.now() + seconds * 1000
  let done = 0
  const started = Date.now()
  await Promise.all(Array.from({ length: LOGIN_CONNECTIONS }, async () => {
    while (Date.now() < end) { await bcrypt.compare(PASSWORD, hash); done++ }
  }))
  const elapsed = (Date.now() - started) / 1000
  return { name: 'bcrypt ceiling', rps: done / elapsed, p50: 0, p99: 0, non2xx: 0, cpuUsPerRequest: 0, requests: done }
}

const loginUsers = Array.from({ length: LOGIN_CONNECTIONS }, (_, i) => `login${i}@perf.example`)

/** POST /login, the requests spread over 16 users (as 16 different people logging in would be). */
function loginLoad (): Options {
  let next = 0
  return {
    path: '/login',
    connections: LOGIN_CONNECTIONS,
    requests: [{
      method: 'POST',
      setupRequest: (request) => ({
        ...request,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: loginUsers[next++ % loginUsers.length], password: PASSWORD })
      })
    }]
  }
}

/**
 * POST /refresh chains: every answer's refresh token goes back into the pool the next request takes from, so
 * each token is presented once (autocannon rebuilds a request's context on every loop, so the pool lives here).
 */
function refreshLoad (pool: string[]): Options {
  return {
    path: '/refresh',
    requests: [{
      method: 'POST',
      setupRequest: (request) => ({
        ...request,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: pool.shift() ?? 'A'.repeat(43) })
      }),
      onResponse: (status, body) => {
        if (status === 200) pool.push(JSON.parse(body).refresh_token)
      }
    }]
  }
}

/** Seeds the sessions table up to `target` rows in a child process (bench/seed.ts); resolves with the row count. */
async function seedSessions (path: string, userId: string, target: number, known: string[]): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/seed.ts', path, userId, String(target)], {
    stdio: ['pipe', 'pipe', 'inherit']
  })
  children.add(child)
  child.stdin!.end(JSON.stringify(known))
  let out = ''
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  children.delete(child)
  if (code !== 0) throw new Error(`seeding exited with ${code}`)
  return Number(out.trim())
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length

async function main (): Promise<void> {
  const started = Date.now()
  mkdirSync('bench/results', { recursive: true })

  // Users, straight through the service (cost 10), before the server opens the file.
  const { db, close } = openSqlite(databasePath)
  migrate(db)
  const service = new AuthService({ database: db, secret: SECRET, bcryptRounds: BCRYPT_COST, loginRateLimit: false })
  const meUser = await service.register('me@perf.example', PASSWORD)
  await Promise.all(loginUsers.map((email) => service.register(email, PASSWORD)))
  await close()

  server = await startServer(databasePath)
  const login = await fetch(`${server.url}/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'me@perf.example', password: PASSWORD })
  }).then((res) => res.json()) as { access_token: string }
  const auth = { authorization: `Bearer ${login.access_token}` }
  const scenarios: Record<string, Options> = {
    'S1 bare GET /health': { path: '/health' },
    'S2 full check GET /me': { path: '/me', headers: auth },
    'S3 stateless GET /me-stateless': { path: '/me-stateless', headers: auth }
  }

  // Warm-up: JIT and caches, not measured.
  for (const options of Object.values(scenarios)) await autocannon({ url: `${server.url}${options.path}`, connections: CONNECTIONS, duration: 1, headers: options.headers })

  const windows: Measure[] = []
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, options] of Object.entries(scenarios)) windows.push(await measure(name, options))
    windows.push(await measure('S4 POST /login (16 conn)', loginLoad()))
    await settle()
    windows.push(await bcryptCeiling(WINDOW))
    await settle()
  }

  // S5: /me latency at a fixed, moderate rate, alone and while logins saturate the hashing pool.
  const paced = async (name: string): Promise<Measure> => {
    const pid = server.pid
    const before = cpuTicks(pid)
    // Twice the window: a p99 from 3,200 samples (full run) moves less between runs than one from 1,600.
    const result = await pacedGet(`${server.url}/me`, auth, 400, 4, S5_WINDOW)
    const ticks = cpuTicks(pid) - before
    return {
      name,
      rps: result.requests / S5_WINDOW,
      p50: result.p50,
      p99: result.p99,
      non2xx: result.non2xx,
      cpuUsPerRequest: (ticks / CLK_TCK) * 1e6 / Math.max(result.requests, 1),
      requests: result.requests
    }
  }
  const s5: Measure[] = []
  for (let round = 0; round < ROUNDS; round++) {
    await settle()
    s5.push(await paced('S5 /me p99 alone'))
    const [underLoad] = await Promise.all([paced('S5 /me p99 under login load'), measure('S5 login load', { ...loginLoad(), duration: S5_WINDOW })])
    s5.push(underLoad)
  }

  // S6: growth, on two databases side by side so the windows interleave (1,000 then 1,000,000 rows, each round)
  // and drift falls on both sizes alike: this server's file at the small size, and a copy of it grown to the
  // large size, served by a second server with the same key (the same access token is valid on both). The
  // refresh chains are sessions of their own, seeded with known tokens; fresh chains for every round, since a
  // window that ends with requests in flight loses those chains' next tokens.
  const largePath = join(dir, 'large.sqlite')
  const chainsFor = () => Array.from({ length: ROUNDS }, () => Array.from({ length: CONNECTIONS }, () => newRefreshToken()))
  const chains = [chainsFor(), chainsFor()]
  const rows = [await seedSessions(databasePath, meUser.id, GROWTH[0], chains[0].flat()), 0]
  {
    const { db: source, close: closeSource } = openSqlite(databasePath)
    source.$client.prepare('vacuum into ?').run(largePath)
    await closeSource()
  }
  rows[1] = await seedSessions(largePath, meUser.id, GROWTH[1], chains[1].flat())
  const sized = [server, await startServer(largePath)]
  // Not measured: the first reads after a bulk insert pay for a cold page cache.
  for (const target of sized) {
    await autocannon({ url: `${target.url}/me`, connections: CONNECTIONS, duration: 1, headers: auth })
    await settle(target)
  }
  const growth: Measure[] = []
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, size] of GROWTH.entries()) {
      growth.push({ ...await measure(`S6 GET /me @ ${fmt(size)} sessions`, scenarios['S2 full check GET /me'], sized[i]), requests: rows[i] })
      growth.push({ ...await measure(`S6 POST /refresh @ ${fmt(size)} sessions`, refreshLoad(chains[i][round]), sized[i]), requests: rows[i] })
      await settle(sized[i])
    }
  }
  await stop(sized[1])

  // S7: resident memory after 10,000 and after 1,000,000 /me requests.
  const memory: Array<{ requests: number, rssMiB: number }> = []
  let sent = 0
  for (const total of MEMORY) {
    await autocannon({ url: `${server.url}/me`, connections: CONNECTIONS, amount: total - sent, headers: auth })
    sent = total
    memory.push({ requests: total, rssMiB: await rssMiB(server) })
  }

  // Ratios per round, where the scenarios were interleaved; growth compares the rounds' mean at each size.
  const of = (name: string) => windows.filter((w) => w.name === name)
  const perRound = (a: string, b: string) => of(a).map((w, i) => w.rps / of(b)[i].rps)
  const s5alone = s5.filter((w) => w.name.endsWith('alone')).map((w) => w.p99)
  const s5load = s5.filter((w) => w.name.endsWith('load')).map((w) => w.p99)
  const growthRatio = (kind: string) => {
    const at = (size: number) => mean(growth.filter((w) => w.name === `S6 ${kind} @ ${fmt(size)} sessions`).map((w) => w.rps))
    return at(GROWTH[1]) / at(GROWTH[0])
  }
  // Every round must meet a target; a median of two would hide a bad one.
  const targets = [
    { target: 'S2 / S3 >= 1.10 (full check beats stateless JWT)', values: perRound('S2 full check GET /me', 'S3 stateless GET /me-stateless'), min: 1.10 },
    { target: 'S2 / S1 >= 0.55', values: perRound('S2 full check GET /me', 'S1 bare GET /health'), min: 0.55 },
    { target: 'S4 / bcrypt ceiling >= 0.90', values: perRound('S4 POST /login (16 conn)', 'bcrypt ceiling'), min: 0.90 },
    { target: 'S5 p99 under login load <= 3 x alone', values: s5load.map((p, i) => 3 * s5alone[i] / Math.max(p, 0.001)), min: 1, show: s5load.map((p, i) => p / s5alone[i]), max: 3 },
    { target: `S6 /me at ${fmt(GROWTH[1])} / at ${fmt(GROWTH[0])} sessions >= 0.90`, values: [growthRatio('GET /me')], min: 0.90 },
    { target: `S6 /refresh at ${fmt(GROWTH[1])} / at ${fmt(GROWTH[0])} sessions >= 0.90`, values: [growthRatio('POST /refresh')], min: 0.90 },
    { target: `S7 RSS growth ${fmt(MEMORY[0])} -> ${fmt(MEMORY[1])} requests <= 10 %`, values: [memory[0].rssMiB * 1.10 / memory[1].rssMiB], min: 1, show: [(memory[1].rssMiB / memory[0].rssMiB - 1) * 100], max: 10 }
  ].map((t) => {
    const checked = Math.min(...t.values)
    const shown = t.show === undefined ? t.values : t.show
    return { target: t.target, measured: shown.map((v) => fmt(v, 2)).join(' / '), pass: checked >= t.min }
  })

  const seconds = (Date.now() - started) / 1000
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`
  const lines: string[] = []
  lines.push(`fastify-drizzle-auth benchmark (${QUICK ? 'quick' : 'full'}): ${machine}, bcrypt cost ${BCRYPT_COST}, ${CONNECTIONS} connections, ${WINDOW} s windows, ${ROUNDS} interleaved round(s), ${fmt(seconds)} s`)
  lines.push('')
  lines.push('| scenario | req/s | p50 ms | p99 ms | non-2xx | server CPU µs/req |')
  lines.push('|---|---:|---:|---:|---:|---:|')
  for (const w of [...windows, ...s5, ...growth]) {
    const label = w.name.startsWith('S6') ? `${w.name} (${fmt(w.requests)} rows)` : w.name
    // autocannon reports whole milliseconds (0 means under 1 ms); S5's own client times to the microsecond.
    const ms = (v: number) => w.name === 'bcrypt ceiling' ? '' : w.name.startsWith('S5') ? fmt(v, 2) : v === 0 ? '< 1' : fmt(v, 1)
    lines.push(`| ${label} | ${fmt(w.rps)} | ${ms(w.p50)} | ${ms(w.p99)} | ${w.name === 'bcrypt ceiling' ? '' : fmt(w.non2xx)} | ${w.cpuUsPerRequest === 0 ? '' : fmt(w.cpuUsPerRequest)} |`)
  }
  for (const m of memory) lines.push(`| S7 RSS after ${fmt(m.requests)} /me requests | | | | | ${fmt(m.rssMiB, 1)} MiB |`)
  lines.push('')
  lines.push('| target | measured (per round) | result |')
  lines.push('|---|---|---|')
  for (const t of targets) lines.push(`| ${t.target} | ${t.measured} | ${t.pass ? 'PASS' : 'FAIL'} |`)
  const report = lines.join('\n')
  console.log(report)
  writeFileSync('bench/results/latest.md', `${report}\n\nCommand: \`npm run bench${QUICK ? ' -- --quick' : ''}\`\n`)
  writeFileSync('bench/results/latest.json', `${JSON.stringify({ quick: QUICK, machine, seconds, windows, s5, growth, memory, targets }, null, 2)}\n`)
}

const onlyIndex = process.argv.indexOf('--only')
const only = onlyIndex === -1 ? undefined : process.argv[onlyIndex + 1]
// `--all`: the core scenarios, then the comparison with the standalone processes (about 6 minutes in all).
const all = process.argv.includes('--all')
const vs = only === 'vs' || only?.startsWith('vs:') === true
try {
  if (all || !vs) await main()
  if (all || vs) {
    stopServer()
    const { reportVs, runVs } = await import('./vs.ts')
    reportVs(await runVs(vs && only !== 'vs' ? only!.slice(3).split(',') : undefined), QUICK)
  }
} finally {
  stopServer()
  await sleep(50)
}
