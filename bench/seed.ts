/**
 * Run by bench/run.ts in a child process, so the load generator's process never carries the bulk load's garbage:
 * `tsx bench/seed.ts <database> <userId> <target>` with the known refresh tokens as a JSON array on stdin.
 * Inserts sessions (each with its refresh token) straight through the store, in batches of one transaction,
 * until the table holds `target`, then prints the row count.
 */
import { readFileSync } from 'node:fs'
import { SqliteAuthStore, openSqlite } from '../src/db/sqlite/index.ts'
import { hashRefreshToken, newSessionId } from '../src/service/tokens.ts'
import { newRefreshToken } from './refresh-token.ts'

const [databasePath, userId, target] = process.argv.slice(2)
const known = JSON.parse(readFileSync(0, 'utf8')) as string[]
const { db, close } = openSqlite(databasePath)
const store = new SqliteAuthStore(db)
// A session is made only while the user still has the password hash its login checked.
const credentials = { passwordHash: db.$client.prepare('select password_hash from auth_users where id = ?').pluck().get(userId) as string | null }
const count = () => Number(db.$client.prepare('select count(*) from auth_sessions').pluck().get())
const now = new Date()
const expiresAt = new Date(now.getTime() + 30 * 24 * 3600 * 1000)
const session = () => ({ id: newSessionId(), userId, createdAt: now, expiresAt, userAgent: 'bench', ip: '127.0.0.1' })
const batch = db.$client.transaction((size: number, tokens: string[]) => {
  // The store's methods run synchronously on SQLite, so one outer transaction holds the whole batch.
  for (const token of tokens) void store.sessions.create(session(), hashRefreshToken(token), credentials)
  for (let i = 0; i < size; i++) void store.sessions.create(session(), hashRefreshToken(newRefreshToken()), credentials)
})
let remaining = Number(target) - count() - known.length
batch(0, known)
while (remaining > 0) {
  const size = Math.min(remaining, 20_000)
  batch(size, [])
  remaining -= size
}
// The WAL left fully copied into the file and emptied (a steady-state database, not one with hundreds of MB of
// checkpoint work pending), so the growth windows measure the tables' size, not the bulk load's aftermath.
db.$client.pragma('wal_checkpoint(TRUNCATE)')
process.stdout.write(`${count()}\n`)
await close()
