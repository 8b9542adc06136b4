/**
 * `npm run bench:floods [-- --quick]`: does a login still finish, and does the event loop stay responsive, when
 * the server has one core and something else wants it?
 *
 * The server (bench/flood-server.ts: the `npm start` application, bcrypt cost 12) is pinned to core 0 with
 * `taskset`, as in a 1-vCPU container; this harness and its load generator run on core 1. For each priority of
 * the hashing threads (normal, nice 10, idle = nice 19 + SCHED_IDLE) and each load (none; a flood of
 * `/password/forgot` for unknown addresses, which hashes nothing; a flood of `/register`, which hashes; an
 * unrelated process spinning on core 0), a victim logs in LOGINS times in a row (its own address, the right
 * password) while a second client asks `/me` with the victim's token every 10 ms. Printed: the victim's login
 * p95 and max, `/me` p99 and max, and the server's own event-loop delay (p99, max) over the same time. Targets: login p95 < 3 s and `/me` p99 < 100 ms under every load.
 * Floods come from 16 connections, each request from a new forwarded address (TRUST_PROXY), so no rate limit
 * stops them before they cost the server.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { plainRequest } from '../test/fixtures/http-client.ts'
import { listening } from './listening.ts'

const QUICK = process.argv.includes('--quick')
const LOGINS = QUICK ? 5 : 12
/** A login that has not finished after this long is counted at this value and the cell moves on. */
const LOGIN_TIMEOUT_MS = 60_000
/** A cell stops after this long even if not every login ran (the idle priority under a flood). */
const CELL_BUDGET_MS = QUICK ? 60_000 : 150_000
const PRIORITIES = ['normal', '5', '10', 'idle'] as const
const LOADS = ['quiet', 'forgot flood', 'register flood', 'busy process'] as const
const PASSWORD = 'Correct-Horse-9-Battery'
const VICTIM_ADDRESS = '198.51.100.7'

interface Cell {
  priority: string
  load: string
  logins: number[]
  me: number[]
  /** Victim logins that did not get 200 (status: count). */
  loginStatuses: Record<string, number>
  floodRequests: number
  /** The server's event-loop delay while the victim was measured (ms). */
  loop: { p99: number, max: number }
}

const children = new Set<ChildProcess>()
process.on('exit', () => { for (const child of children) if (child.exitCode === null) child.kill('SIGKILL') })

function onCoreZero (args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn('taskset', ['-c', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** A POST as a native app sends it (no Fetch Metadata, so tokens come back in the body); 'timeout' past the limit. */
async function post (url: string, body: object, address: string): Promise<{ status: number | 'timeout', body: Record<string, string> }> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<{ status: 'timeout', body: Record<string, string> }>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'timeout', body: {} }), LOGIN_TIMEOUT_MS)
  })
  try {
    return await Promise.race([plainRequest(url, 'POST', body, { 'x-forwarded-for': address }), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Requests whose bodies and forwarded addresses all differ, from one template. */
function flood (url: string, load: string): autocannon.Instance {
  let n = 0
  const path = load === 'forgot flood' ? '/password/forgot' : '/register'
  return autocannon({
    url: `${url}${path}`,
    connections: 16,
    duration: 3600,
    requests: [{
      method: 'POST',
      setupRequest: (request) => {
        n++
        const address = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`
        const email = `flood-${n}-${randomBytes(3).toString('hex')}@example.com`
        const body = load === 'forgot flood' ? { email } : { email, password: `Purple-Staple-${n}-Zebra` }
        return { ...request, headers: { 'content-type': 'application/json', 'x-forwarded-for': address }, body: JSON.stringify(body) }
      }
    }]
  }, () => {})
}

async function measureCell (priority: string, load: string, dir: string): Promise<Cell> {
  const server = onCoreZero([process.execPath, '--import', 'tsx', 'bench/flood-server.ts'], {
    BENCH_THREADS: priority,
    DATABASE_PATH: join(dir, `${priority}-${load.replace(/ /g, '-')}.sqlite`),
    MAIL_DIR: join(dir, 'mail'),
    AUTH_SECRET: randomBytes(32).toString('hex'),
    BCRYPT_ROUNDS: '12',
    TRUST_PROXY: '127.0.0.1',
    AUTH_REGISTRATIONS_PER_IP: '1000000'
  })
  const url = await listening(server)
  let output = ''
  server.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const email = `victim-${randomBytes(4).toString('hex')}@example.com`
  const registered = await post(`${url}/register`, { email, password: PASSWORD }, VICTIM_ADDRESS)
  if (registered.status !== 201) throw new Error(`could not register the victim: ${registered.status} ${JSON.stringify(registered.body)}`)
  const first = await post(`${url}/login`, { email, password: PASSWORD }, VICTIM_ADDRESS)
  const token = first.body.access_token
  if (token === undefined) throw new Error(`the victim's first login answered ${first.status}`)

  const busy = load === 'busy process' ? onCoreZero([process.execPath, '-e', 'for (;;) {}'], {}) : undefined
  const floodRun = load.endsWith('flood') ? flood(url, load) : undefined
  let floodRequests = 0
  floodRun?.on('response', () => { floodRequests++ })
  // Let the load settle in (the flood's queue fills, the spinner gets its share) before the victim starts.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  server.kill('SIGUSR2')

  const me: number[] = []
  let measuring = true
  const pacer = (async () => {
    // eslint-disable-next-line no-unmodified-loop-condition -- the flood's end clears it while this loop awaits
    while (measuring) {
      const started = performance.now()
      const res = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${token}` } })
      await res.arrayBuffer()
      me.push(performance.now() - started)
      const wait = 10 - (performance.now() - started)
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    }
  })()
  const logins: number[] = []
  const loginStatuses: Record<string, number> = {}
  const cellStarted = performance.now()
  for (let i = 0; i < LOGINS && performance.now() - cellStarted < CELL_BUDGET_MS; i++) {
    const started = performance.now()
    const status = String((await post(`${url}/login`, { email, password: PASSWORD }, VICTIM_ADDRESS)).status)
    logins.push(status === 'timeout' ? LOGIN_TIMEOUT_MS : performance.now() - started)
    if (status !== '200') loginStatuses[status] = (loginStatuses[status] ?? 0) + 1
  }
  measuring = false
  await pacer
  if (floodRun !== undefined) {
    floodRun.stop()
    await new Promise((resolve) => floodRun.once('done', resolve))
  }
  if (busy !== undefined) await stop(busy)
  await stop(server)
  const loop = JSON.parse(/event loop (\{.*\})/.exec(output)?.[1] ?? '{"p99":null,"max":null}') as Cell['loop']
  return { priority, load, logins, me, loginStatuses, floodRequests, loop }
}

function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil(sorted.length * p) - 1)] ?? NaN
}

function report (cells: Cell[], seconds: number): void {
  const ms = (n: number) => n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(1)} ms`
  const lines = [
    `Hashing on one busy core (${QUICK ? 'quick' : 'full'}): server on core 0, bcrypt cost 12, ${LOGINS} victim logins per cell, ${seconds.toFixed(0)} s`,
    '',
    '| hashing threads | load | victim logins | login p95 | login max | /me p99 | /me max | event-loop delay p99 | event-loop delay max | /me requests | flood requests | targets |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|'
  ]
  for (const c of cells) {
    const loginP95 = percentile(c.logins, 0.95)
    const meP99 = percentile(c.me, 0.99)
    const refused = Object.entries(c.loginStatuses).map(([status, count]) => `${count} x ${status}`).join(', ')
    const pass = loginP95 < 3000 && meP99 < 100 && refused === '' && c.logins.length === LOGINS
    lines.push(`| ${/^\d+$/.test(c.priority) ? `nice ${c.priority}` : c.priority} | ${c.load} | ${c.logins.length}${refused === '' ? '' : ` (${refused})`} | ${ms(loginP95)} | ${ms(Math.max(...c.logins))} | ${ms(meP99)} | ${ms(Math.max(...c.me))} | ${ms(c.loop.p99)} | ${ms(c.loop.max)} | ${c.me.length} | ${c.floodRequests} | ${pass ? 'PASS' : 'FAIL'} |`)
  }
  const text = lines.join('\n')
  console.log(text)
  writeFileSync('bench/results/hash-floods.md', `${text}\n\nCommand: \`npm run bench:floods${QUICK ? ' -- --quick' : ''}\`\n`)
  // Every login's time, and /me summarised (its samples run to thousands a cell).
  const summary = cells.map(({ me, ...cell }) => ({ ...cell, me: { requests: me.length, p50: percentile(me, 0.5), p99: percentile(me, 0.99), max: Math.max(...me) } }))
  writeFileSync('bench/results/hash-floods.json', `${JSON.stringify({ quick: QUICK, cells: summary }, null, 2)}\n`)
}

const started = performance.now()
// This harness and everything it starts without taskset stay off the server's core.
execFileSync('taskset', ['-a', '-pc', '1', String(process.pid)], { stdio: 'ignore' })
const dir = mkdtempSync(join(tmpdir(), 'fda-floods-'))
try {
  const only = process.argv.find((arg) => arg.startsWith('--priority='))?.slice('--priority='.length)
  const cells: Cell[] = []
  for (const priority of PRIORITIES.filter((p) => only === undefined || only.split(',').includes(p))) {
    for (const load of LOADS) {
      const cell = await measureCell(priority, load, dir)
      console.error(`${priority} / ${load}: logins ${cell.logins.map((n) => n.toFixed(0)).join(' ')} ms; /me p99 ${percentile(cell.me, 0.99).toFixed(1)} ms`)
      cells.push(cell)
    }
  }
  report(cells, (performance.now() - started) / 1000)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
