import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate, openSqlite } from '../src/index.ts'
import { hashRefreshToken, newRefreshToken, newSessionId } from '../src/service/tokens.ts'
const size = Number(process.argv[2])
const dir = mkdtempSync(join(tmpdir(), 'x-'))
const { db, close } = openSqlite(join(dir, 'a.sqlite')); migrate(db)
const c = db.$client
if (process.env.CACHE) c.pragma(`cache_size = ${process.env.CACHE}`)
if (process.env.MMAP) c.pragma(`mmap_size = ${process.env.MMAP}`)
if (process.env.WOR) {
  c.exec(`drop table auth_refresh_tokens; create table auth_refresh_tokens (token_hash text primary key not null, session_id text not null references auth_sessions(id) on delete cascade, generation integer not null, created_at integer not null, used_at integer) without rowid; create index auth_refresh_tokens_session_idx on auth_refresh_tokens (session_id, generation);`)
}
const insS = c.prepare('insert into auth_sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) values (?, ?, 0, 0, ?, ?, ?)')
const insT = c.prepare('insert into auth_refresh_tokens (token_hash, session_id, generation, created_at) values (?, ?, ?, 0)')
const exp = Date.now() + 864e5
const chains = Array.from({ length: 50 }, () => { const id = newSessionId(); const tok = newRefreshToken(); return { id, tok, gen: 0 } })
c.transaction(() => { for (const ch of chains) { insS.run(ch.id, 'user', exp, 'b', 'i'); insT.run(hashRefreshToken(ch.tok), ch.id, 0) } })()
let left = size
while (left > 0) { const n = Math.min(left, 20000); c.transaction(() => { for (let i = 0; i < n; i++) { const id = newSessionId(); insS.run(id, 'user', exp, 'bench', '127.0.0.1'); insT.run(hashRefreshToken(newRefreshToken()), id, 0) } })(); left -= n }
c.pragma('wal_checkpoint(TRUNCATE)')
const consume = c.prepare('update auth_refresh_tokens set used_at = ? where token_hash = ? and used_at is null and exists (select 1 from auth_sessions s where s.id = auth_refresh_tokens.session_id and s.revoked_at is null and s.expires_at > ?) returning session_id, generation')
const touch = c.prepare('update auth_sessions set last_used_at = ? where id = ? returning user_id')
const begin = c.prepare('begin immediate'); const commit = c.prepare('commit')
for (let r = 0; r < 2; r++) {
const t = { consume: 0n, insert: 0n, touch: 0n, commit: 0n, begin: 0n }
const n = 20000
for (let i = 0; i < n; i++) {
  const ch = chains[i % 50]; const next = newRefreshToken(); const h1 = hashRefreshToken(ch.tok); const h2 = hashRefreshToken(next)
  let a = process.hrtime.bigint(); begin.run(); let b = process.hrtime.bigint(); t.begin += b - a
  const row = consume.get(Date.now(), h1, Date.now()) as any; a = process.hrtime.bigint(); t.consume += a - b
  insT.run(h2, row.session_id, row.generation + 1); b = process.hrtime.bigint(); t.insert += b - a
  touch.get(Date.now(), row.session_id); a = process.hrtime.bigint(); t.touch += a - b
  commit.run(); b = process.hrtime.bigint(); t.commit += b - a
  ch.tok = next
}
let total = 0n; for (const v of Object.values(t)) total += v
console.log(size, process.env.CACHE ?? '', process.env.MMAP ?? '', process.env.WOR ? 'WOR' : '', Object.entries(t).map(([k, v]) => `${k} ${(Number(v) / n / 1000).toFixed(1)}`).join('  '), 'total', (Number(total) / n / 1000).toFixed(1))
}
await close()
