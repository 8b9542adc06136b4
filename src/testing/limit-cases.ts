import assert from 'node:assert/strict'
import { HOUR, NO_PASSWORD, session, type StoreCase, user, wholeSecond } from './case.ts'

const roomy = (key: string) => ({ key, max: 100 })
const liveCount = async (store: Parameters<StoreCase['run']>[0], key: string, now: Date) =>
  (await store.limits.peek([roomy(key)], undefined, now)).counts[0]?.count

export const limitCases: StoreCase[] = [{
  name: 'limits: atomic counting per key, a fresh window after the old one, settled by clearing and releasing',
  async run (store) {
    const now = wholeSecond()
    const hits = await Promise.all(Array.from({ length: 20 }, async () => store.limits.hit([roomy('k'), roomy('ip')], 60_000, now)))
    assert.ok(hits.every((h) => h.counted), 'all counted under the limit')
    assert.deepEqual(hits.map((h) => h.counts[0].count).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1), 'no lost update')
    assert.equal(hits[0].counts[0].resetAt.getTime(), now.getTime() + 60_000)
    await store.limits.settle({ clear: ['k'], release: ['ip'] }, now)
    assert.equal(await liveCount(store, 'k', now), undefined, 'cleared')
    assert.equal(await liveCount(store, 'ip', now), 19, 'released one')
    assert.equal((await store.limits.hit([roomy('k')], 60_000, now)).counts[0].count, 1, 'a cleared key starts again')
    const later = new Date(now.getTime() + 61_000)
    assert.deepEqual(await store.limits.hit([roomy('ip')], 60_000, later),
      { counted: true, counts: [{ key: 'ip', count: 1, resetAt: new Date(later.getTime() + 60_000) }] }, 'a fresh window')
    await store.limits.settle({ clear: ['missing'], release: ['missing', 'gone'] }, now)
    assert.equal(await liveCount(store, 'missing', now), undefined, 'settling missing keys is harmless and creates nothing')
  }
}, {
  name: 'limits: a key already at its limit refuses the attempt and writes nothing',
  async run (store) {
    const now = wholeSecond()
    for (let i = 0; i < 3; i++) assert.equal((await store.limits.hit([{ key: 'ip', max: 3 }], 60_000, now)).counted, true)
    const refused = await store.limits.hit([{ key: 'email:x|ip', max: 5 }, { key: 'ip', max: 3 }], 60_000, now)
    assert.deepEqual(refused, { counted: false, counts: [{ key: 'ip', count: 3, resetAt: new Date(now.getTime() + 60_000) }] })
    assert.equal(await liveCount(store, 'email:x|ip', now), undefined, 'nothing counted for the other key')
    assert.equal(await liveCount(store, 'ip', now), 3)
    assert.equal((await store.limits.hit([{ key: 'ip', max: 3 }], 60_000, new Date(now.getTime() + 60_000))).counted, true, 'the next window counts again')
  }
}, {
  name: 'limits: a peek tells the live counts and whether a device token is live, writing nothing',
  async run (store) {
    const owner = await user(store, 'k@example.com')
    const now = wholeSecond()
    await store.sessions.create(session('s', owner.id, now), 't0', NO_PASSWORD, { device: { tokenHash: 'dev', expiresAt: new Date(now.getTime() + HOUR) } })
    for (let i = 0; i < 2; i++) await store.limits.hit([{ key: 'ip', max: 5 }], 60_000, now)
    const limits = [{ key: 'email', max: 5 }, { key: 'ip', max: 5 }]
    assert.deepEqual(await store.limits.peek(limits, undefined, now), { counts: [{ key: 'ip', count: 2, resetAt: new Date(now.getTime() + 60_000) }], deviceLive: false })
    assert.equal((await store.limits.peek(limits, { tokenHash: 'dev', userId: owner.id, max: 10 }, now)).deviceLive, true)
    assert.equal((await store.limits.peek(limits, { tokenHash: 'dev', userId: 'someone-else', max: 10 }, now)).deviceLive, false, 'only for its own user')
    assert.equal((await store.limits.peek(limits, { tokenHash: 'other', userId: owner.id, max: 10 }, now)).deviceLive, false)
    assert.equal((await store.limits.peek(limits, { tokenHash: 'dev', userId: owner.id, max: 10 }, new Date(now.getTime() + HOUR))).deviceLive, false, 'expired')
    assert.equal(await store.devices.hit('dev', owner.id, 10, now), true)
    assert.equal((await store.limits.peek(limits, { tokenHash: 'dev', userId: owner.id, max: 1 }, now)).deviceLive, false, 'at its failure limit')
    assert.deepEqual(await store.limits.peek(limits, undefined, new Date(now.getTime() + 61_000)), { counts: [], deviceLive: false }, 'an ended window is no count')
    assert.equal((await store.limits.hit([{ key: 'ip', max: 5 }], 60_000, now)).counts[0].count, 3, 'the peeks wrote nothing')
  }
}, {
  name: 'limits: a login settles its counts and its device token in the transaction of its session',
  async run (store) {
    const owner = await user(store, 'l@example.com')
    const now = wholeSecond()
    const device = { tokenHash: 'dev', expiresAt: new Date(now.getTime() + HOUR) }
    await store.sessions.create(session('s0', owner.id, now), 't0', NO_PASSWORD, { device })
    for (let i = 0; i < 3; i++) assert.equal(await store.devices.hit('dev', owner.id, 4, now), true)
    assert.equal(await store.devices.hit('dev', owner.id, 4, now), true)
    assert.equal(await store.devices.hit('dev', owner.id, 4, now), false, 'at 4 failures: not counted, nothing written')
    await store.limits.hit([roomy('email'), roomy('account'), roomy('ip')], 60_000, now)
    await store.limits.hit([roomy('account'), roomy('ip')], 60_000, now)
    const settle = { clear: ['email'], release: ['account', 'ip'], device: 'dev' }
    assert.equal(await store.sessions.create(session('s1', owner.id, now), 't1', NO_PASSWORD, { settle }), true)
    assert.deepEqual([await liveCount(store, 'email', now), await liveCount(store, 'account', now), await liveCount(store, 'ip', now)], [undefined, 1, 1])
    assert.equal((await store.limits.peek([], { tokenHash: 'dev', userId: owner.id, max: 1 }, now)).deviceLive, true, 'its failures back to 0')
  }
}, {
  name: 'devices: failures counted under the limit, a spent token revoked, all of a user\'s revoked',
  async run (store) {
    const owner = await user(store, 'd@example.com')
    const now = wholeSecond()
    const device = (tokenHash: string) => ({ device: { tokenHash, expiresAt: new Date(now.getTime() + HOUR) } })
    await store.sessions.create(session('s1', owner.id, now), 't1', NO_PASSWORD, device('d1'))
    await store.sessions.create(session('s2', owner.id, now), 't2', NO_PASSWORD, device('d2'))
    const hits = await Promise.all(Array.from({ length: 5 }, async () => store.devices.hit('d1', owner.id, 3, now)))
    assert.equal(hits.filter(Boolean).length, 3, 'of 5 concurrent failures, 3 counted')
    assert.equal(await store.devices.hit('d1', 'someone-else', 3, now), false, 'only for its own user')
    await store.devices.revokeIfSpent('d2', 3, now)
    assert.equal((await store.limits.peek([], { tokenHash: 'd2', userId: owner.id, max: 3 }, now)).deviceLive, true, 'under its limit: kept')
    await store.devices.revokeIfSpent('d1', 3, now)
    assert.equal((await store.limits.peek([], { tokenHash: 'd1', userId: owner.id, max: 10 }, now)).deviceLive, false, 'spent: revoked')
    assert.equal(await store.devices.revokeForUser(owner.id, now), 1, 'one was still live')
    assert.equal(await store.devices.revokeForUser(owner.id, now), 0)
  }
}, {
  name: 'maintenance: ended sessions go with all their tokens, ended device tokens and windows too; a live session keeps its used token',
  async run (store) {
    const owner = await user(store, 'p@example.com')
    const now = wholeSecond()
    const device = (hash: string, ttl = HOUR) => ({ device: { tokenHash: hash, expiresAt: new Date(now.getTime() + ttl) } })
    await store.sessions.create(session('live', owner.id, now), 'l0', NO_PASSWORD, device('d-live'))
    await store.sessions.rotateRefreshToken('l0', 'l1', now)
    await store.sessions.create(session('gone', owner.id, new Date(now.getTime() - 2 * HOUR)), 'g0', NO_PASSWORD, device('d-old', -HOUR))
    await store.sessions.create(session('out', owner.id, now), 'o0', NO_PASSWORD, device('d-out'))
    await store.sessions.revoke('out', 'logout', now)
    await store.limits.hit([{ key: 'old', max: 5 }], 1000, new Date(now.getTime() - 2000))
    await store.limits.hit([{ key: 'fresh', max: 5 }], 60_000, now)
    assert.equal(await store.maintenance.purgeExpired(now), 6, 'two sessions, their two tokens, one expired device token, one window')
    assert.equal(await store.sessions.findByRefreshToken('l0'), 'live', 'the used token of the live session stays')
    assert.equal(await store.sessions.findByRefreshToken('l1'), 'live', 'the live token stays')
    assert.equal(await store.devices.revokeForUser(owner.id, now), 2, 'two device tokens were live')
    assert.equal(await store.maintenance.purgeExpired(now), 2, 'revoked device tokens go')
    assert.equal(await store.maintenance.purgeExpired(now), 0)
  }
}]
