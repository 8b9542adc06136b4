/**
 * A bounded map for hot-path memories (verified tokens, remembered session lookups): two generations of at
 * most `capacity / 2` entries each. A full young generation becomes the old one and the previous old one is
 * dropped whole, so an insert never scans or deletes entry by entry (deleting the oldest key of one big Map
 * at every insert costs microseconds once the working set is larger than the cache). A hit in the old
 * generation moves the entry to the young one, so what is in use stays.
 *
 * When the working set is larger than the memory (most lookups miss), every insert is churn: the entry is
 * dropped before it is used, yet it lives long enough to cost the garbage collector an old-generation object.
 * So after every `capacity / 2` lookups the hit rate is looked at: under 1 in 8, only 1 insert in 16 is kept
 * until the hit rate is back (a key that keeps coming back still gets in after a few misses).
 */
export class BoundedCache<K, V> {
  readonly #half: number
  #young = new Map<K, V>()
  #old = new Map<K, V>()
  #lookups = 0
  #hits = 0
  #sampling = false
  #offered = 0

  constructor (capacity: number) {
    this.#half = Math.max(1, Math.floor(capacity / 2))
  }

  /** Entries held now: at most the capacity. */
  get size (): number {
    return this.#young.size + this.#old.size
  }

  /** True while most lookups miss and only 1 insert in 16 is kept. */
  get sampling (): boolean {
    return this.#sampling
  }

  get (key: K): V | undefined {
    if (++this.#lookups >= this.#half) this.#review()
    const young = this.#young.get(key)
    if (young !== undefined) {
      this.#hits++
      return young
    }
    const old = this.#old.get(key)
    if (old !== undefined) {
      this.#hits++
      this.#old.delete(key)
      this.#store(key, old)
    }
    return old
  }

  set (key: K, value: V): void {
    if (this.#sampling && (++this.#offered & 15) !== 0) return
    this.#store(key, value)
  }

  #review (): void {
    this.#sampling = this.#hits * 8 < this.#lookups
    this.#lookups = 0
    this.#hits = 0
  }

  #store (key: K, value: V): void {
    if (this.#young.size >= this.#half) {
      this.#old = this.#young
      this.#young = new Map()
    }
    this.#young.set(key, value)
  }

  delete (key: K): void {
    this.#young.delete(key)
    this.#old.delete(key)
  }

  clear (): void {
    this.#young.clear()
    this.#old.clear()
  }
}
