/**
 * Refresh-token rows stay bounded per session (the current token and the previous), while reuse detection
 * stays as strong: a token used before and replayed after the grace window ends the session, also after a
 * purge, and a token of the earlier format (from before the upgrade) still refreshes.
 */
import t, { type Test } from 'tap'
import { AuthService } from '../src/index.ts'
import { hashRefreshToken } from '../src/service/tokens.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'
import { availableDialects, createTestDatabase, type Dialect } from './fixtures/databases.ts'

const ROTATIONS = 10_000
// On PostgreSQL each rotation is a transaction of several round trips: about 30 s for all of them on a 2-core machine.
t.setTimeout(180_000)

/** A service on a fresh database of `dialect`, with alice registered. */
async function setup (t: Test, dialect: Dialect, refreshReuseGraceSeconds: number) {
  const db = await createTestDatabase(dialect)
  const service = new AuthService({ database: db.database, secret: SECRET, bcryptRounds: 4, refreshReuseGraceSeconds })
  t.teardown(async () => { await service.close(); await db.close() })
  await service.ready()
  await service.register('alice@example.com', PASSWORD)
  return { db, service }
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: ${ROTATIONS} rotations of one session leave two rows; an old token replayed ends the session, also after a purge`, { timeout: 170_000 }, async (t) => {
    const { db, service } = await setup(t, dialect, 0)
    const first = await service.login('alice@example.com', PASSWORD)
    const rows = async () => Number((await db.query(`select count(*) as n from auth_refresh_tokens where session_id = '${first.sessionId}'`))[0].n)
    let token = first.refreshToken
    const kept: string[] = []
    for (let i = 0; i < ROTATIONS; i++) {
      if (i === 5 || i === ROTATIONS - 2) kept.push(token)
      token = (await service.refresh(token)).refreshToken
    }
    t.equal(await rows(), 2, `after ${ROTATIONS} rotations: the current token and the previous`)
    t.equal(Number((await db.query('select count(*) as n from auth_refresh_tokens'))[0].n), 2, 'and nothing else anywhere')

    await service.purgeExpired()
    const [old, previous] = kept
    await t.rejects(service.refresh(old), { code: 'token_revoked', message: /reuse detected/ }, 'a token from the start, replayed after a purge: reuse')
    await t.rejects(service.refresh(token), { code: 'token_revoked' }, 'the session ended: its current token too')
    await t.rejects(service.refresh(previous), { code: 'token_revoked' })

    const second = await service.login('alice@example.com', PASSWORD)
    const next = await service.refresh(second.refreshToken)
    await t.rejects(service.refresh(second.refreshToken), { code: 'token_revoked', message: /reuse detected/ }, 'the previous token, replayed: reuse')
    await t.rejects(service.refresh(next.refreshToken), { code: 'token_revoked' })
  })

  t.test(`${dialect}: an older token of a session that ended, expired or is gone: refused as such, nothing revoked`, async (t) => {
    const { db, service } = await setup(t, dialect, 0)
    const reused: unknown[] = []
    service.on('refresh_token_reused', (event) => { reused.push(event) })
    const older = async () => {
      const session = await service.login('alice@example.com', PASSWORD)
      const next = await service.refresh(session.refreshToken)
      await service.refresh(next.refreshToken)
      return { old: session.refreshToken, sessionId: session.sessionId }
    }
    const ended = await older()
    await service.logout(ended.old)
    await t.rejects(service.refresh(ended.old), { code: 'token_revoked' }, 'logout (by an old token) ended it')
    const expired = await older()
    await db.query(`update auth_sessions set expires_at = ${dialect === 'sqlite' ? Date.now() - 1000 : "now() - interval '1 second'"} where id = '${expired.sessionId}'`)
    await t.rejects(service.refresh(expired.old), { code: 'token_expired' })
    const gone = await older()
    await db.query(`delete from auth_refresh_tokens where session_id = '${gone.sessionId}'`)
    await db.query(`delete from auth_sessions where id = '${gone.sessionId}'`)
    await t.rejects(service.refresh(gone.old), { code: 'invalid_token' })
    t.same(reused, [], 'none of these is a reuse')
    await service.logout('not-a-token')
    await service.logout('AZQ8mN0A' + 'c'.repeat(35))
  })

  t.test(`${dialect}: the grace window still answers 409 for the previous token, and a token of the earlier format still refreshes`, async (t) => {
    const { db, service } = await setup(t, dialect, 30)
    const session = await service.login('alice@example.com', PASSWORD)
    const next = await service.refresh(session.refreshToken)
    await t.rejects(service.refresh(session.refreshToken), { code: 'refresh_in_progress', statusCode: 409 })
    const after = await service.refresh(next.refreshToken)
    await t.rejects(service.refresh(session.refreshToken), { code: 'token_revoked', message: /reuse detected/ }, 'two generations back: reuse, grace or not')
    await t.rejects(service.refresh(after.refreshToken), { code: 'token_revoked' })

    // A session and token as the earlier release wrote them: the token a bare 32-byte nonce.
    const fresh = await service.login('alice@example.com', PASSWORD)
    const legacy = 'AZQ8mN0A' + 'b'.repeat(35)
    await db.query(`update auth_refresh_tokens set token_hash = '${hashRefreshToken(legacy)}' where session_id = '${fresh.sessionId}'`)
    const upgraded = await service.refresh(legacy)
    t.equal(upgraded.sessionId, fresh.sessionId)
    t.match(upgraded.refreshToken, /^[\w-]+\.[\w-]{43}\.[\w-]{22}$/, 'rotated into a token that names its session')
    t.ok(await service.refresh(upgraded.refreshToken))
  })
}
