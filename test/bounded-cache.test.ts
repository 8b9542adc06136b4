import t from 'tap'
import { BoundedCache } from '../src/lib/bounded-cache.ts'

t.test('two generations: never more than the capacity, the older half dropped whole, a hit in it kept', async (t) => {
  const cache = new BoundedCache<string, number>(4)
  for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) cache.set(key, i)
  t.equal(cache.size, 4, 'young {c, d}, old {a, b}')
  t.equal(cache.get('a'), 0, "a hit in the old generation moves 'a' to the young one")
  t.equal(cache.size, 3, 'the full young {c, d} became the old one; {b} went whole')
  t.equal(cache.get('b'), undefined)
  t.equal(cache.get('d'), 3, 'promoted again: young {a, d}, old {c}')
  cache.set('e', 4)
  t.equal(cache.size, 3, 'young {e}, old {a, d}: never more than 4')
  t.same(['a', 'c', 'e'].map((k) => cache.get(k)), [0, undefined, 4])
})

t.test('delete and clear reach both generations; a capacity under 2 still holds one entry', async (t) => {
  const cache = new BoundedCache<string, number>(4)
  cache.set('a', 1)
  cache.set('b', 2)
  cache.set('c', 3)
  cache.delete('a')
  cache.delete('c')
  t.equal(cache.get('a'), undefined)
  t.equal(cache.get('c'), undefined)
  t.equal(cache.get('b'), 2)
  cache.clear()
  t.equal(cache.size, 0)
  const tiny = new BoundedCache<string, number>(1)
  tiny.set('x', 1)
  tiny.set('y', 2)
  t.equal(tiny.size, 2, 'one per generation')
  t.equal(tiny.get('y'), 2)
})

t.test('a working set larger than the memory: once most lookups miss, only 1 insert in 16 is kept, until hits come back', async (t) => {
  const cache = new BoundedCache<string, number>(64)
  // 32 lookups (half the capacity) all missing, each followed by its insert.
  for (let i = 0; i < 32; i++) {
    t.equal(cache.get(`k${i}`), undefined)
    cache.set(`k${i}`, i)
  }
  t.equal(cache.sampling, true, 'the 32nd lookup saw 0 hits in 32: sampling')
  t.equal(cache.size, 31, 'the 32nd insert was the first offered while sampling, and was dropped')
  for (let i = 32; i < 64; i++) cache.set(`k${i}`, i)
  t.equal(cache.size, 33, 'of the next 32 offered (2nd to 33rd), the 16th and the 32nd kept')
  t.same([cache.get('k46'), cache.get('k62'), cache.get('k40')], [46, 62, undefined])
  // A small set looked up again and again: hits, so at the next review everything is kept again.
  for (let i = 0; i < 32; i++) cache.get('k46')
  t.equal(cache.sampling, false, 'hits again: every insert kept')
  cache.set('fresh', 1)
  t.equal(cache.get('fresh'), 1)
})
