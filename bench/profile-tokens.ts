/**
 * `tsx bench/profile-tokens.ts <database> <tokens.json> [seconds]`: a CPU profile of the bench server on
 * `GET /hello` while autocannon cycles through the given access tokens (scenarios b-d of `--only vs`), printed
 * as the top self-time entries. AUTH_SECRET must be the key the tokens were signed with (bench/seed-tokens.ts).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { listening } from './listening.ts'
import { type CpuProfile, topSelfTime } from './profile-summary.ts'

const [database, tokenFile, seconds = '5'] = process.argv.slice(2)
const tokens = JSON.parse(readFileSync(tokenFile, 'utf8')) as string[]
const dir = mkdtempSync(join(tmpdir(), 'fda-profile-'))
const server = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-interval=50', `--cpu-prof-dir=${dir}`, '--import', 'tsx', 'bench/server.ts'], {
  env: { ...process.env, ...(database.startsWith('postgres') ? { DATABASE_URL: database } : { DATABASE_PATH: database }), PORT: '0' },
  stdio: ['ignore', 'pipe', 'inherit']
})
const url = await listening(server)
let next = 0
const result = await autocannon({
  url: `${url}/hello`,
  connections: 50,
  duration: Number(seconds),
  requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, headers: { authorization: `Bearer ${tokens[next++ % tokens.length]}` } }) }]
})
server.kill('SIGTERM')
await new Promise((resolve) => server.once('exit', resolve))
const profile = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!), 'utf8')) as CpuProfile
rmSync(dir, { recursive: true, force: true })
process.stdout.write(`${Math.round(result.requests.average)} req/s, ${result.non2xx} non-2xx\n`)
for (const line of topSelfTime(profile, 30)) process.stdout.write(`${line}\n`)
