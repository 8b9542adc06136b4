import type Database from 'better-sqlite3'
import type { AttemptCount, AttemptLimit, AttemptOutcome, AttemptSettlement, DeviceCheck, LimitStore, LoginPeek } from '../store.ts'
import type { PreparedStatements } from './statements.ts'

/** Settles a successful password check; run inside the caller's transaction (a login's is its session's). */
export function settleAttempts (q: PreparedStatements, settlement: AttemptSettlement, nowMs: number): void {
  for (const key of settlement.clear) q.clearWindow.run({ key })
  for (const key of settlement.release) q.releaseWindow.run({ key })
  if (settlement.device !== undefined) q.resetDeviceToken.run({ tokenHash: settlement.device, nowMs })
}

export class SqliteLimitStore implements LimitStore {
  readonly #q: PreparedStatements
  readonly #hit: Database.Transaction<(limits: readonly AttemptLimit[], windowMs: number, now: Date) => AttemptOutcome>
  readonly #settle: Database.Transaction<(settlement: AttemptSettlement, nowMs: number) => void>

  constructor (client: Database.Database, q: PreparedStatements) {
    this.#q = q
    // BEGIN IMMEDIATE: concurrent writers queue on the lock, so the read of the live counts holds until the write.
    this.#hit = client.transaction((limits: readonly AttemptLimit[], windowMs: number, now: Date): AttemptOutcome => {
      const nowMs = now.getTime()
      const live: AttemptCount[] = []
      let full = false
      for (const { key, max } of limits) {
        const row = q.liveWindow.get({ key, nowMs })
        if (row === undefined) continue
        live.push({ key, count: row.count, resetAt: row.resetAt })
        if (row.count >= max) full = true
      }
      if (full) return { counted: false, counts: live }
      const resetAt = new Date(nowMs + windowMs)
      return {
        counted: true,
        counts: limits.map(({ key }): AttemptCount => {
          const row = q.hitWindow.get({ key, resetAt, nowMs, resetAtMs: resetAt.getTime() })!
          return { key, count: row.count, resetAt: row.resetAt }
        })
      }
    })
    this.#settle = client.transaction((settlement: AttemptSettlement, nowMs: number) => { settleAttempts(q, settlement, nowMs) })
  }

  async hit (limits: readonly AttemptLimit[], windowMs: number, now: Date): Promise<AttemptOutcome> {
    return this.#hit.immediate(limits, windowMs, now)
  }

  async peek (limits: readonly AttemptLimit[], device: DeviceCheck | undefined, now: Date): Promise<LoginPeek> {
    const nowMs = now.getTime()
    const counts: AttemptCount[] = []
    for (const { key } of limits) {
      const row = this.#q.liveWindow.get({ key, nowMs })
      if (row !== undefined) counts.push({ key, count: row.count, resetAt: row.resetAt })
    }
    const deviceLive = device !== undefined && this.#q.liveDeviceToken.get({ ...device, nowMs }) !== undefined
    return { counts, deviceLive }
  }

  async settle (settlement: AttemptSettlement, now: Date): Promise<void> {
    this.#settle.immediate(settlement, now.getTime())
  }
}
