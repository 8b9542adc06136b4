import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { AuthService, SqliteAuthStore, migrate, openSqlite } from '../src/index.ts'
import { hashRefreshToken, newRefreshToken, newSessionId } from '../src/service/tokens.ts'
const dir = mkdtempSync(join(tmpdir(), 'x-')); const secret = 'x'.repeat(64); const path = join(dir, 'a.sqlite')
{ const { db, close } = openSqlite(path); migrate(db); await new AuthService({ database: db, secret, bcryptRounds: 4, loginRateLimit: false }).register('u@x.io', 'Bench-Password-42!'); await close() }
const server = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts'], { env: { ...process.env, DATABASE_PATH: path, AUTH_SECRET: secret, BCRYPT_ROUNDS: '4', PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] })
const url = await new Promise<string>((resolve) => server.stdout!.on('data', (c: Buffer) => { const m = /listening (\S+)/.exec(c.toString()); if (m) resolve(m[1]) }))
const login = await (await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'u@x.io', password: 'Bench-Password-42!' }) })).json() as any
const ticks = (main = false) => { const s = readFileSync(main ? `/proc/${server.pid}/task/${server.pid}/stat` : `/proc/${server.pid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return Number(f[11]) + Number(f[12]) }
async function seed (target: number, known: string[]) {
  const { db, close } = openSqlite(path); const store = new SqliteAuthStore(db)
  const userId = (db.$client.prepare('select id from auth_users').pluck().get()) as string
  const existing = Number(db.$client.prepare('select count(*) from auth_sessions').pluck().get())
  const now = new Date(); const exp = new Date(now.getTime() + 864e5)
  const batch = db.$client.transaction((n: number, ks: string[]) => { for (const k of ks) void store.createSession({ id: newSessionId(), userId, createdAt: now, expiresAt: exp, userAgent: 'b', ip: '1' }, hashRefreshToken(k)); for (let i = 0; i < n; i++) void store.createSession({ id: newSessionId(), userId, createdAt: now, expiresAt: exp, userAgent: 'b', ip: '1' }, hashRefreshToken(newRefreshToken())) })
  batch(0, known); let left = target - existing - known.length
  while (left > 0) { const n = Math.min(left, 20000); batch(n, []); left -= n }
  await close()
}
for (const size of [1000, Number(process.argv[2] ?? 1000000)]) {
  const chains = Array.from({ length: 2 }, () => Array.from({ length: 50 }, () => newRefreshToken()))
  await seed(size, chains.flat())
  await autocannon({ url: `${url}/me`, connections: 50, duration: 1, headers: { authorization: `Bearer ${login.access_token}` } })
  await new Promise((r) => setTimeout(r, 1000))
  for (let round = 0; round < 2; round++) {
    let t0 = ticks()
    const me = await autocannon({ url: `${url}/me`, connections: 50, duration: 4, headers: { authorization: `Bearer ${login.access_token}` } })
    const meCpu = (ticks() - t0) * 10000 / me.requests.total
    const pool = chains[round]; t0 = ticks(); const m0 = ticks(true)
    const r = await autocannon({ url: `${url}/refresh`, connections: 50, duration: 4, requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: pool.shift() ?? 'A'.repeat(43) }) }), onResponse: (s, b) => { if (s === 200) pool.push(JSON.parse(b).refresh_token) } }] })
    console.log(size, 'me rps', (me.requests.total / 4).toFixed(0), 'cpu', meCpu.toFixed(0), '| refresh rps', (r.requests.total / 4).toFixed(0), 'non2xx', r.non2xx, 'cpu µs', ((ticks() - t0) * 10000 / r.requests.total).toFixed(0), 'main', ((ticks(true) - m0) * 10000 / r.requests.total).toFixed(0))
  }
}
server.kill('SIGKILL')
