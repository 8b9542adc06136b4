/**
 * Run by bench/vs.ts in a child process: `tsx bench/seed-tokens.ts <database> <sessions> <out.json>`. Creates
 * up to 1,000 users and `sessions` live sessions spread over them (straight through the store, in batches),
 * then writes one access token per session to `out.json`, signed with AUTH_SECRET as the plugin signs them.
 */
import { writeFileSync } from 'node:fs'
import { resolveConfig } from '../src/service/config.ts'
import { openStore } from '../src/db/index.ts'
import { AccessTokenCodec, hashRefreshToken, newSessionId } from '../src/service/tokens.ts'
import { newRefreshToken } from './refresh-token.ts'

const [database, total, out] = process.argv.slice(2)
const sessions = Number(total)
const config = resolveConfig({ database, secret: process.env.AUTH_SECRET, accessTokenTtl: 3600 })
const codec = new AccessTokenCodec(config)
const store = await openStore({ database, usersTable: undefined, migrate: true, postgresPool: {} })
await store.ready()
// Any fixed bcrypt hash: these users never log in, the scenarios only present their tokens.
const passwordHash = '$2b$04$abcdefghijklmnopqrstuu5r8Ld0p8VBDnBy1WWc8gD5rgO4c/7Fa'
const userCount = Math.min(sessions, 1000)
const users: string[] = []
for (let i = 0; i < userCount; i++) {
  const email = `vs${i}@perf.example`
  users.push((await store.users.findByEmail(email) ?? await store.users.create({ email, passwordHash })).id)
}
const now = new Date()
const expiresAt = new Date(now.getTime() + 30 * 24 * 3600 * 1000)
const tokens: string[] = []
const BATCH = 500
for (let start = 0; start < sessions; start += BATCH) {
  const made = Array.from({ length: Math.min(BATCH, sessions - start) }, (_, i) => {
    const userId = users[(start + i) % userCount]
    return { id: newSessionId(), userId, createdAt: now, expiresAt, userAgent: 'bench', ip: '127.0.0.1' }
  })
  // The credentials a login would have checked: the stored hash, so the session is made.
  await Promise.all(made.map((session) => store.sessions.create(session, hashRefreshToken(newRefreshToken()), { passwordHash })))
  for (const session of made) tokens.push(codec.sign(session.userId, session.id))
}
writeFileSync(out, JSON.stringify(tokens))
await store.close()
process.stdout.write(`${tokens.length}\n`)
