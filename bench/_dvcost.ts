import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuthService, SqliteAuthStore, migrate, openSqlite } from '../src/index.ts'
import { hashRefreshToken, newRefreshToken, newSessionId } from '../src/service/tokens.ts'
const size = Number(process.argv[2])
const path = join(mkdtempSync(join(tmpdir(), 'x-')), 'a.sqlite')
const seeder = openSqlite(path); migrate(seeder.db)
const svc = new AuthService({ database: seeder.db, secret: 'x'.repeat(64), bcryptRounds: 4, loginRateLimit: false })
const user = await svc.register('u@x.io', 'Bench-Password-42!')
const { db, close } = openSqlite(path)
const store = new SqliteAuthStore(db)
const login = await svc.login('u@x.io', 'Bench-Password-42!')
const sst = new SqliteAuthStore(seeder.db)
const now = new Date(); const exp = new Date(now.getTime() + 864e5)
const batch = seeder.db.$client.transaction((n: number) => { for (let i = 0; i < n; i++) void sst.createSession({ id: newSessionId(), userId: user.id, createdAt: now, expiresAt: exp, userAgent: 'b', ip: '1' }, hashRefreshToken(newRefreshToken())) })
for (let left = size; left > 0; left -= 20000) batch(Math.min(left, 20000))
await seeder.close()
const dv = db.$client.prepare('pragma data_version').pluck()
function bench (name: string, fn: () => void) { for (let i = 0; i < 1e5; i++) fn(); const t = process.hrtime.bigint(); for (let i = 0; i < 5e5; i++) fn(); console.log(size, name, (Number(process.hrtime.bigint() - t) / 5e5 / 1000).toFixed(3), 'us') }
bench('data_version', () => dv.get())
bench('findSessionSync (remembered)', () => store.findSessionSync(login.sessionId))
await close()
