import assert from 'node:assert/strict'
import { HOUR, type StoreCase, user, wholeSecond } from './case.ts'

export const actionCases: StoreCase[] = [{
  name: 'actions: a token is issued with its message, found while live, consumed by exactly one of 10 concurrent uses',
  async run (store) {
    const owner = await user(store, 'v@example.com')
    const now = wholeSecond()
    const token = (id: string) => ({
      id, tokenHash: `hash-${id}`, purpose: 'verify_email' as const, userId: owner.id, email: owner.email, newEmail: null, createdAt: now, expiresAt: new Date(now.getTime() + HOUR)
    })
    await store.actions.issueActionToken({ token: token('t1'), message: { id: 'm1', payload: 'sealed-1', createdAt: now } }, now)
    await store.actions.issueActionToken({ token: token('t2'), message: { id: 'm2', payload: 'sealed-2', createdAt: now } }, now)
    assert.equal(await store.actions.findActionToken('hash-t1', 'verify_email', now), undefined, 'an earlier token of the purpose is void')
    assert.equal(await store.actions.findActionToken('hash-t2', 'reset_password', now), undefined, 'another purpose')
    assert.equal((await store.actions.findActionToken('hash-t2', 'verify_email', now))?.userId, owner.id)
    await store.actions.issueActionToken(null, now)
    const uses = await Promise.all(Array.from({ length: 10 }, async () => store.actions.verifyEmail('hash-t2', now)))
    assert.deepEqual(uses.filter((u) => u !== undefined), [{ userId: owner.id, email: owner.email }])
    assert.equal((await store.users.findById(owner.id))!.isVerified, true)
    const claimed = await store.actions.claimMessages(10, 60_000, now)
    assert.deepEqual(claimed.map((m) => [m.id, m.payload, m.attempts]).sort(), [['m1', 'sealed-1', 1], ['m2', 'sealed-2', 1]])
    assert.deepEqual(await store.actions.claimMessages(10, 60_000, now), [], 'leased: not claimed twice')
    await store.actions.retryMessage('m1', now, 'smtp down')
    await store.actions.deleteMessage('m2')
    assert.deepEqual((await store.actions.claimMessages(10, 60_000, now)).map((m) => [m.id, m.attempts]), [['m1', 2]], 'retried, the other gone')
  }
}]
