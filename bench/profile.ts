/**
 * `npm run bench:profile [-- <path> [seconds]]`: a CPU profile of the bench server under load on one route
 * (default `/me`, 5 s, 50 connections; `/login` is posted by 16; `/refresh` runs 50 token chains), printed as the top self-time entries. The `.cpuprofile` is kept in
 * bench/results/ for Chrome DevTools. Used to find what to take off the hot path (bench/NOTES.md).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { AuthService } from '../src/index.ts'
import { migrate, openSqlite } from '../src/db/sqlite/index.ts'
import { listening } from './listening.ts'
import { type CpuProfile, topSelfTime } from './profile-summary.ts'

const path = process.argv[2] ?? '/me'
const seconds = Number(process.argv[3] ?? 5)
const dir = mkdtempSync(join(tmpdir(), 'fda-profile-'))
const secret = randomBytes(32).toString('hex')
// Filled once the server is spawned; the exit handler is installed before, for an early failure.
const running: { server?: ChildProcess } = {}
process.on('exit', () => {
  if (running.server?.exitCode === null) running.server.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

const { db, close } = openSqlite(join(dir, 'auth.sqlite'))
migrate(db)
await new AuthService({ database: db, secret, bcryptRounds: 10, loginRateLimit: false }).register('me@perf.example', 'Bench-Password-42!')
close()

const server = running.server = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-interval=50', `--cpu-prof-dir=${dir}`, '--import', 'tsx', 'bench/server.ts'], {
  env: { ...process.env, DATABASE_PATH: join(dir, 'auth.sqlite'), AUTH_SECRET: secret, BCRYPT_ROUNDS: '10', PORT: '0' },
  stdio: ['ignore', 'pipe', 'inherit']
})
const url = await listening(server)
const { access_token: token } = await fetch(`${url}/login`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'me@perf.example', password: 'Bench-Password-42!' })
}).then((res) => res.json()) as { access_token: string }
const credentials = JSON.stringify({ email: 'me@perf.example', password: 'Bench-Password-42!' })
// /refresh keeps 50 chains going (each answer's token is the next request's); /login is posted by 16
// connections, as S4 does; anything else is a GET with the access token.
const chains: string[] = []
if (path === '/refresh') {
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: credentials })
    chains.push((await res.json() as { refresh_token: string }).refresh_token)
  }
}
const options: autocannon.Options = path === '/refresh'
  ? {
      url: `${url}${path}`,
      connections: 50,
      duration: seconds,
      requests: [{
        method: 'POST',
        setupRequest: (request) => ({ ...request, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: chains.shift() }) }),
        onResponse: (status, body) => { if (status === 200) chains.push((JSON.parse(body) as { refresh_token: string }).refresh_token) }
      }]
    }
  : path === '/login'
    ? { url: `${url}${path}`, connections: 16, duration: seconds, method: 'POST', headers: { 'content-type': 'application/json' }, body: credentials }
    : { url: `${url}${path}`, connections: 50, duration: seconds, headers: { authorization: `Bearer ${token}` } }
const result = await autocannon(options)
server.kill('SIGTERM')
await new Promise((resolve) => server!.once('exit', resolve))

const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))!
mkdirSync('bench/results', { recursive: true })
const kept = join('bench/results', `profile${path.replaceAll('/', '-')}.cpuprofile`)
renameSync(join(dir, file), kept)
const profile = JSON.parse(readFileSync(kept, 'utf8')) as CpuProfile
process.stdout.write(`${path}: ${Math.round(result.requests.average)} req/s, ${result.non2xx} non-2xx; profile in ${kept}\n`)
for (const line of topSelfTime(profile, 40)) process.stdout.write(`${line}\n`)
