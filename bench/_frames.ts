import { mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from '../src/index.ts'
import { hashRefreshToken, newRefreshToken, newSessionId } from '../src/service/tokens.ts'
const size = Number(process.argv[2])
const path = join(mkdtempSync(join(tmpdir(), 'x-')), 'a.sqlite')
const c = new Database(path); c.pragma('journal_mode = WAL'); c.pragma('synchronous = NORMAL'); c.pragma('wal_autocheckpoint = 0')
migrate(drizzle(c))
const insS = c.prepare('insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) values (?, ?, 0, 0, ?, ?, ?)')
const insT = c.prepare('insert into auth_refresh_tokens (token_hash, session_id, generation, created_at) values (?, ?, ?, 0)')
const exp = Date.now() + 864e5
const chains = Array.from({ length: 50 }, () => ({ id: newSessionId(), tok: newRefreshToken() }))
c.transaction(() => { for (const ch of chains) { insS.run(ch.id, 'user', exp, 'b', 'i'); insT.run(hashRefreshToken(ch.tok), ch.id, 0) } })()
let left = size
while (left > 0) { const n = Math.min(left, 20000); c.transaction(() => { for (let i = 0; i < n; i++) { const id = newSessionId(); insS.run(id, 'user', exp, 'bench', '127.0.0.1'); insT.run(hashRefreshToken(newRefreshToken()), id, 0) } })(); left -= n }
c.pragma('wal_checkpoint(TRUNCATE)')
console.log('db MB', (statSync(path).size / 1e6).toFixed(0), 'page_count', c.pragma('page_count', { simple: true }))
const consume = c.prepare('update auth_refresh_tokens set used_at = ? where token_hash = ? and used_at is null and exists (select 1 from auth_sessions s where s.id = auth_refresh_tokens.session_id and s.revoked_at is null and s.expires_at > ?) returning session_id, generation')
const touch = c.prepare('update auth_sessions set last_used_at = ? where id = ? returning user_id')
const tx = c.transaction((ch: any, next: string) => { const row = consume.get(Date.now(), hashRefreshToken(ch.tok), Date.now()) as any; insT.run(hashRefreshToken(next), row.session_id, row.generation + 1); touch.get(Date.now(), row.session_id) })
const n = 20000; const t0 = process.hrtime.bigint()
for (let i = 0; i < n; i++) { const ch = chains[i % 50]; const next = newRefreshToken(); tx.immediate(ch, next); ch.tok = next }
console.log(size, "µs per refresh tx", (Number(process.hrtime.bigint() - t0) / n / 1000).toFixed(1), "frames per commit", ((statSync(path + '-wal').size - 32) / (4096 + 24) / n).toFixed(2))
