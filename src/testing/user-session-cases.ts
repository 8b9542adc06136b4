import assert from 'node:assert/strict'
import { ConflictError } from '../errors.ts'
import type { FoundSession } from '../db/store.ts'
import { assertFields, HOUR, NO_PASSWORD, rejection, session, type StoreCase, user, wholeSecond } from './case.ts'

export const userCases: StoreCase[] = [{
  name: 'users: created with defaults, found by email and id, updated; a taken email is ConflictError(email_taken)',
  async run (store) {
    const created = await store.users.create({ email: 'a@example.com', passwordHash: '$2b$04$hash' })
    assertFields(created, { email: 'a@example.com', passwordHash: '$2b$04$hash', isActive: true, isVerified: false, lastLogin: null })
    assert.equal(typeof created.id, 'string')
    for (const column of ['joinedAt', 'createdAt', 'updatedAt'] as const) assert.ok(created[column] instanceof Date, `${column} is a Date`)
    assert.deepEqual(await store.users.findByEmail('a@example.com'), created)
    assert.deepEqual(await store.users.findById(created.id), created)
    assert.equal(await store.users.findByEmail('b@example.com'), undefined)
    assert.equal(await store.users.findById('not-a-uuid'), undefined, 'any id can be looked up')
    const later = wholeSecond(1000)
    const updated = await store.users.update(created.id, { isVerified: true, passwordHash: null }, later)
    assertFields(updated, { isVerified: true, passwordHash: null, updatedAt: later })
    assert.equal(await store.users.update('missing', { isActive: false }, later), undefined)
    const taken = await rejection(store.users.create({ email: 'a@example.com', passwordHash: null }), 'a second user with a taken email')
    assert.ok(taken instanceof ConflictError, 'a ConflictError')
    assert.equal(taken.code, 'email_taken')
  }
}, {
  name: 'users: 20 concurrent inserts of one email make exactly one row',
  async run (store) {
    const results = await Promise.allSettled(Array.from({ length: 20 }, async () => user(store, 'race@example.com')))
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    assert.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof ConflictError), 'the rest are conflicts')
  }
}, {
  name: 'users: a password hash is replaced only while it is still the one given',
  async run (store) {
    const created = await store.users.create({ email: 'h@example.com', passwordHash: 'old' })
    const now = wholeSecond()
    const results = await Promise.all(['new-1', 'new-2', 'new-3'].map(async (hash) => store.users.replacePasswordHash(created.id, 'old', hash, now)))
    assert.deepEqual(results.filter(Boolean).length, 1, 'one of three concurrent replacements')
    assert.ok(['new-1', 'new-2', 'new-3'].includes((await store.users.findById(created.id))!.passwordHash!))
    assert.equal(await store.users.replacePasswordHash(created.id, 'old', 'new-4', now), false, 'no longer the old hash')
  }
}]

export const sessionCases: StoreCase[] = [{
  name: 'sessions: created with the first refresh token and the last-login stamp, found joined with the user',
  async run (store) {
    const owner = await user(store, 's@example.com')
    const now = wholeSecond()
    assert.equal(await store.sessions.create(session('sid-1', owner.id, now), 'hash-0', NO_PASSWORD), true)
    const found = await store.sessions.find('sid-1')
    assert.deepEqual({ ...found!.session }, { id: 'sid-1', userId: owner.id, expiresAt: new Date(now.getTime() + HOUR), revokedAt: null })
    assert.equal(found!.user.id, owner.id)
    assert.equal('passwordHash' in found!.user, false, 'the answer carries no password hash')
    assert.equal(found!.user.lastLogin!.getTime(), now.getTime(), 'last login stamped in the same transaction')
    assert.equal(await store.sessions.find('nope'), undefined)
    assert.equal(await store.sessions.findByRefreshToken('hash-0'), 'sid-1')
    assert.equal(await store.sessions.findByRefreshToken('nope'), undefined)
  }
}, {
  name: 'sessions: refused, writing nothing, once the credentials a login checked changed or the user is inactive',
  async run (store) {
    const owner = await store.users.create({ email: 'x@example.com', passwordHash: 'checked' })
    const now = wholeSecond()
    await store.limits.hit([{ key: 'k', max: 10 }], 60_000, now)
    const extras = { device: { tokenHash: 'dev', expiresAt: new Date(now.getTime() + HOUR) }, settle: { clear: ['k'], release: [] } }
    assert.equal(await store.sessions.create(session('s1', owner.id, now), 'h1', { passwordHash: 'stale' }, extras), false, 'another hash')
    await store.users.update(owner.id, { isActive: false }, now)
    assert.equal(await store.sessions.create(session('s2', owner.id, now), 'h2', { passwordHash: 'checked' }, extras), false, 'inactive')
    assert.equal(await store.sessions.find('s1'), undefined)
    assert.equal(await store.sessions.findByRefreshToken('h2'), undefined)
    assert.equal((await store.limits.peek([{ key: 'k', max: 10 }], { tokenHash: 'dev', userId: owner.id, max: 10 }, now)).deviceLive, false, 'no device token')
    assert.equal((await store.limits.peek([{ key: 'k', max: 10 }], undefined, now)).counts[0]?.count, 1, 'the counts not settled')
    assert.equal((await store.users.findById(owner.id))!.lastLogin, null)
  }
}, {
  name: 'rotation: stamps the last use and the latest address; refused once idle past the cutoff, saying when it was last used',
  async run (store) {
    const owner = await user(store, 'i@example.com')
    const start = wholeSecond()
    await store.sessions.create(session('idle', owner.id, start, 10 * HOUR), 'i0', NO_PASSWORD)
    const later = new Date(start.getTime() + HOUR)
    assertFields(await store.sessions.rotateRefreshToken('i0', 'i1', later, { ip: '10.0.0.9', idleCutoff: new Date(later.getTime() - 2 * HOUR) }), { outcome: 'rotated', generation: 1 })
    let [listed] = await store.sessions.listForUser(owner.id, later, 10)
    assertFields(listed, { ip: '10.0.0.9', lastUsedAt: later }, 'the refresh moved both')
    const muchLater = new Date(later.getTime() + 3 * HOUR)
    await store.sessions.rotateRefreshToken('i1', 'i2', muchLater, { ip: null })
    ;[listed] = await store.sessions.listForUser(owner.id, muchLater, 10)
    assertFields(listed, { ip: '10.0.0.9', lastUsedAt: muchLater }, 'no address given: the last one kept')
    const cutoff = new Date(muchLater.getTime() + HOUR)
    const refused = await store.sessions.rotateRefreshToken('i2', 'i3', new Date(muchLater.getTime() + 2 * HOUR), { idleCutoff: cutoff })
    assertFields(refused, { outcome: 'spent', usedAt: null, lastUsedAt: muchLater }, 'idle since before the cutoff: not consumed')
    assert.equal(await store.sessions.findByRefreshToken('i3'), undefined, 'and nothing stored')
  }
}, {
  name: 'rotation: consumed once, spent tokens reported with the newest generation, two rows a session, dead sessions refused',
  async run (store) {
    const owner = await user(store, 'r@example.com')
    const now = wholeSecond()
    await store.sessions.create(session('sid', owner.id, now), 'h0', NO_PASSWORD)
    const ends = new Date(now.getTime() + HOUR)
    assert.deepEqual(await store.sessions.rotateRefreshToken('h0', 'h1', now), { outcome: 'rotated', sessionId: 'sid', userId: owner.id, generation: 1, expiresAt: ends, method: 'password' })
    assert.deepEqual(await store.sessions.rotateRefreshToken('h1', 'h2', now), { outcome: 'rotated', sessionId: 'sid', userId: owner.id, generation: 2, expiresAt: ends, method: 'password' })
    const spent = await store.sessions.rotateRefreshToken('h1', 'hx', now)
    assertFields(spent, { outcome: 'spent', generation: 1, latestGeneration: 2, usedAt: now, userActive: true }, 'the previous token')
    assertFields((spent as { session: object }).session, { id: 'sid', userId: owner.id, revokedAt: null })
    assert.deepEqual(await store.sessions.rotateRefreshToken('h0', 'hy', now), { outcome: 'unknown' }, 'an older token is no longer stored')
    assert.equal(await store.sessions.findByRefreshToken('h0'), undefined)
    assert.deepEqual(await store.sessions.rotateRefreshToken('unknown', 'hy', now), { outcome: 'unknown' })
    assert.deepEqual(await store.sessions.rotateRefreshToken('hx', 'hz', now), { outcome: 'unknown' }, 'the failed rotation stored nothing')
    assert.equal(await store.sessions.revoke('sid', 'test', now), owner.id, 'the user whose session it was')
    assert.equal(await store.sessions.revoke('sid', 'test', now), undefined, 'already revoked')
    const revoked = await store.sessions.rotateRefreshToken('h2', 'h3', now)
    assertFields(revoked, { outcome: 'spent', usedAt: null }, 'an unused token of a revoked session is not consumed')
    assert.ok((revoked as { session: { revokedAt: unknown } }).session.revokedAt instanceof Date)
    await store.sessions.create(session('old', owner.id, new Date(now.getTime() - 2 * HOUR)), 'e0', NO_PASSWORD)
    assertFields(await store.sessions.rotateRefreshToken('e0', 'e1', now), { outcome: 'spent', usedAt: null }, 'nor one of an expired session')
    await store.sessions.create(session('idle', owner.id, now), 'i0', NO_PASSWORD)
    await store.users.update(owner.id, { isActive: false }, now)
    assertFields(await store.sessions.rotateRefreshToken('i0', 'i1', now), { outcome: 'spent', usedAt: null, userActive: false }, 'nor one of an inactive user')
  }
}, {
  name: 'rotation: 20 concurrent consumptions of one token make exactly one child',
  async run (store) {
    const owner = await user(store, 'c@example.com')
    await store.sessions.create(session('sid', owner.id, wholeSecond()), 'parent', NO_PASSWORD)
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => store.sessions.rotateRefreshToken('parent', `child-${i}`, wholeSecond())))
    assert.equal(results.filter((r) => r.outcome === 'rotated').length, 1)
    assert.equal(results.filter((r) => r.outcome === 'spent').length, 19)
    const children = await Promise.all(Array.from({ length: 20 }, async (_, i) => store.sessions.findByRefreshToken(`child-${i}`)))
    assert.equal(children.filter((c) => c !== undefined).length, 1, 'one child stored')
  }
}, {
  name: 'sessions: all of a user\'s revoked, optionally but one; another user\'s untouched',
  async run (store) {
    const [a, b] = await Promise.all([user(store, 'a@example.com'), user(store, 'b@example.com')])
    const now = wholeSecond()
    for (const id of ['a1', 'a2', 'a3']) await store.sessions.create(session(id, a.id, now), `h-${id}`, NO_PASSWORD)
    await store.sessions.create(session('b1', b.id, now), 'h-b1', NO_PASSWORD)
    assert.equal(await store.sessions.revokeForUser(a.id, 'password_changed', now, 'a2'), 2)
    assert.equal((await store.sessions.find('a2'))!.session.revokedAt, null, 'the kept one')
    assert.equal(await store.sessions.revokeForUser(a.id, 'logout_all', now), 1)
    assert.equal(await store.sessions.revokeForUser(a.id, 'logout_all', now), 0)
    assert.equal((await store.sessions.find('b1'))!.session.revokedAt, null, 'another user untouched')
  }
}, {
  name: 'sessions: a user\'s live sessions, newest first and capped; ended, expired and others\' left out',
  async run (store) {
    const [owner, other] = await Promise.all([user(store, 'l@example.com'), user(store, 'o@example.com')])
    const now = wholeSecond()
    for (const [i, id] of ['l1', 'l2', 'l3', 'l4'].entries()) {
      await store.sessions.create({ ...session(id, owner.id, new Date(now.getTime() + i * 1000)), method: i === 0 ? undefined : 'passkey' }, `h-${id}`, NO_PASSWORD)
    }
    await store.sessions.create(session('l-expired', owner.id, new Date(now.getTime() - 2 * HOUR)), 'h-le', NO_PASSWORD)
    await store.sessions.create(session('o1', other.id, now), 'h-o1', NO_PASSWORD)
    await store.sessions.revoke('l3', 'logout', now)
    const listed = await store.sessions.listForUser(owner.id, new Date(now.getTime() + 5000), 100)
    assert.deepEqual(listed.map((s) => s.id), ['l4', 'l2', 'l1'], 'live ones only, newest first')
    assertFields(listed[2], { id: 'l1', ip: '127.0.0.1', userAgent: 'ua', method: 'password' })
    assert.equal(listed[0].method, 'passkey')
    assert.deepEqual(Object.keys(listed[2]).sort(), ['createdAt', 'expiresAt', 'id', 'ip', 'lastUsedAt', 'method', 'userAgent'], 'nothing else: no token, no hash')
    assert.ok(listed[2].createdAt instanceof Date && listed[2].createdAt.getTime() === now.getTime())
    assert.deepEqual((await store.sessions.listForUser(owner.id, now, 2)).map((s) => s.id), ['l4', 'l2'], 'at most the limit')
  }
}, {
  name: 'sessions: a user revokes only a live session of their own',
  async run (store) {
    const [owner, other] = await Promise.all([user(store, 'r@example.com'), user(store, 'x@example.com')])
    const now = wholeSecond()
    await store.sessions.create(session('r1', owner.id, now), 'h-r1', NO_PASSWORD)
    await store.sessions.create(session('x1', other.id, now), 'h-x1', NO_PASSWORD)
    assert.equal(await store.sessions.revokeOwned('x1', owner.id, 'revoked', now), false, 'another user\'s session')
    assert.equal((await store.sessions.find('x1'))!.session.revokedAt, null, 'left alone')
    assert.equal(await store.sessions.revokeOwned('nope', owner.id, 'revoked', now), false)
    assert.equal(await store.sessions.revokeOwned('r1', owner.id, 'revoked', now), true)
    assert.ok((await store.sessions.find('r1'))!.session.revokedAt instanceof Date)
    assert.equal(await store.sessions.revokeOwned('r1', owner.id, 'revoked', now), false, 'once')
  }
}, {
  name: 'sessions: lookups asked together (one event-loop turn) answer what one by one would',
  async run (store) {
    const owner = await user(store, 'm@example.com')
    const now = wholeSecond()
    for (const id of ['m1', 'm2']) await store.sessions.create(session(id, owner.id, now), `h-${id}`, NO_PASSWORD)
    await store.sessions.revoke('m2', 'logout', now)
    const ids = ['m2', 'none', 'm1', 'm1']
    const many = await Promise.all(ids.map(async (id) => store.sessions.find(id)))
    const one: Array<FoundSession | undefined> = []
    for (const id of ids) one.push(await store.sessions.find(id))
    assert.deepEqual(many.map((f) => f?.session.id), ['m2', undefined, 'm1', 'm1'])
    assert.ok(many[0]!.session.revokedAt instanceof Date, 'the revoked one as revoked')
    assert.deepEqual(many.map((f) => f && { ...f.session }), one.map((f) => f && { ...f.session }))
  }
}]
