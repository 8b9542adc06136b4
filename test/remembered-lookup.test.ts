/**
 * The hot path's memory, alone: answers belong to one version; a new version forgets them, an answer looked
 * up under a version that moved on is not kept, nothing is kept without a version, and none outlives maxAgeMs
 * on the clock it is given.
 */
import t from 'tap'
import type { FoundSession } from '../src/index.ts'
import { RememberedLookup } from '../src/db/remembered-lookup.ts'
import { next } from './fixtures/session-memory.ts'

function answer (id: string): FoundSession {
  return Object.freeze({
    session: Object.freeze({ id, userId: 'u', expiresAt: new Date(0), revokedAt: null }),
    user: Object.freeze({ id: 'u', email: 'u@example.com', isActive: true, isVerified: false, lastLogin: null, joinedAt: new Date(0), createdAt: new Date(0), updatedAt: new Date(0) })
  })
}

t.test('answers belong to the version they were looked up under', async (t) => {
  const memory = new RememberedLookup()
  t.equal(memory.recall('s1', 1), undefined, 'nothing yet')
  memory.remember('s1', answer('s1'), 1)
  t.equal(memory.recall('s1', 1)?.session.id, 's1', 'the same version: from memory')
  memory.remember('s2', answer('s2'), 0)
  t.equal(memory.recall('s2', 1), undefined, 'looked up under a version that had moved on: not kept')
  const forgotten = next('version')
  t.equal(memory.recall('s1', 2), undefined, 'a new version forgets every answer')
  await forgotten
  memory.remember('s1', answer('s1'), 2)
  memory.remember('s1', undefined, 2)
  t.equal(memory.recall('s1', 2), undefined, 'a session no longer found is dropped')
  t.same(memory.diagnostics(), { remembered: 0, hits: 1, misses: 4 })
})

t.test('without a version nothing is kept or reused', async (t) => {
  const memory = new RememberedLookup()
  t.equal(memory.recall('s1', 1), undefined)
  memory.remember('s1', answer('s1'), 1)
  t.ok(memory.recall('s1', 1))
  t.equal(memory.recall('s1', undefined), undefined, 'not listening, inside a transaction: the database is asked')
  memory.remember('s1', answer('s1'), undefined)
  t.equal(memory.recall('s1', 1), undefined, 'and coming back to the old version does not bring the old answers back')
  t.same(memory.diagnostics(), { remembered: 0, hits: 1, misses: 3 })
})

t.test('no answer is reused after maxAgeMs on the clock it is given, whatever the version says', async (t) => {
  let now = 1_000
  const memory = new RememberedLookup({ maxAgeMs: 50, now: () => now })
  memory.recall('s1', 7)
  memory.remember('s1', answer('s1'), 7)
  now += 50
  t.ok(memory.recall('s1', 7), 'at maxAgeMs: still reused')
  now += 1
  t.equal(memory.recall('s1', 7), undefined, 'one millisecond later: asked again')
  memory.remember('s1', answer('s1'), 7)
  t.ok(memory.recall('s1', 7), 'and the fresh answer is reused')
})
