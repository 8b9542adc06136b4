import { channel } from 'node:diagnostics_channel'
import { BoundedCache } from '../lib/bounded-cache.ts'
import type { FoundSession } from './records.ts'

const REMEMBERED = 10_000

/**
 * Where the memories tell that they forgot everything: `{ reason }` is 'version' (a change was seen),
 * 'notification' or 'connection lost' (PostgreSQL). Published only while someone subscribes.
 */
export const sessionMemoryChannel = channel('fastify-drizzle-auth:session-memory')

export function forgotten (reason: string): void {
  if (sessionMemoryChannel.hasSubscribers) sessionMemoryChannel.publish({ reason })
}

/**
 * What says whether a remembered answer may still be used: a value that moves whenever an answer can have
 * changed (a trigger-kept counter, the database's commit counters, an epoch moved by notifications), or
 * undefined while nothing can be trusted (the triggers lost, the listening connection down).
 */
export interface VersionSource {
  current (): unknown
  /** What it watches, for diagnostics. */
  readonly watching: 'triggers' | 'commits' | 'notifications'
  /** False while nothing can be trusted (`current()` answers undefined), for diagnostics. */
  readonly trusted: boolean
}

interface Stamped {
  found: FoundSession
  at: number
}

export interface RememberedLookupOptions {
  /** The longest an answer is reused, whatever the version says (default: no limit). */
  maxAgeMs?: number
  now?: () => number
}

/**
 * The hot path's memory of session lookups, for one version at a time: asked under a new version, it forgets
 * every answer first; an answer looked up under a version that has moved on since is not kept. Entries are
 * bounded (BoundedCache) and frozen, so one answer may serve many requests. Both dialects use it; only their
 * version sources differ.
 */
export class RememberedLookup {
  // The answer itself, or with the time it was looked up under a maxAgeMs (no object per answer otherwise).
  readonly #entries = new BoundedCache<string, FoundSession | Stamped>(REMEMBERED)
  readonly #maxAgeMs: number
  readonly #now: () => number
  #version: unknown
  #hits = 0
  #misses = 0

  constructor (options: RememberedLookupOptions = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? Infinity
    this.#now = options.now ?? Date.now
  }

  /** The answer remembered for `sessionId` under `version` (undefined: nothing may be remembered), or undefined. */
  recall (sessionId: string, version: unknown): FoundSession | undefined {
    if (version !== this.#version) this.#moveTo(version)
    const known = version === undefined ? undefined : this.#entries.get(sessionId)
    const found = known === undefined || this.#maxAgeMs === Infinity ? known as FoundSession | undefined : this.#unexpired(known as Stamped)
    if (found !== undefined) {
      this.#hits++
      return found
    }
    this.#misses++
    return undefined
  }

  /** Keeps the answer looked up under `version` while that is still the version; a session not found is dropped. */
  remember (sessionId: string, found: FoundSession | undefined, version: unknown): void {
    if (version === undefined || version !== this.#version) return
    if (found === undefined) this.#entries.delete(sessionId)
    else this.#entries.set(sessionId, this.#maxAgeMs === Infinity ? found : { found, at: this.#now() })
  }

  #unexpired (stamped: Stamped): FoundSession | undefined {
    return this.#now() - stamped.at <= this.#maxAgeMs ? stamped.found : undefined
  }

  diagnostics (): { remembered: number, hits: number, misses: number } {
    return { remembered: this.#entries.size, hits: this.#hits, misses: this.#misses }
  }

  #moveTo (version: unknown): void {
    if (this.#entries.size > 0) {
      this.#entries.clear()
      forgotten('version')
    }
    this.#version = version
  }
}
