/**
 * A bounded map for hot-path memories (verified tokens, remembered session lookups): two generations of at
 * most `capacity / 2` entries each. A full young generation becomes the old one and the previous old one is
 * dropped whole, so an insert never scans or deletes entry by entry (deleting the oldest key of one big Map
 * at every insert costs microseconds once the working set is larger than the cache). A hit in the old
 * generation moves the entry to the young one, so what is in use stays.
 */
export class BoundedCache<K, V> {
  readonly #half: number
  #young = new Map<K, V>()
  #old = new Map<K, V>()

  constructor (capacity: number) {
    this.#half = Math.max(1, Math.floor(capacity / 2))
  }

  /** Entries held now: at most the capacity. */
  get size (): number {
    return this.#young.size + this.#old.size
  }

  get (key: K): V | undefined {
    const young = this.#young.get(key)
    if (young !== undefined) return young
    const old = this.#old.get(key)
    if (old !== undefined) {
      this.#old.delete(key)
      this.set(key, old)
    }
    return old
  }

  set (key: K, value: V): void {
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
