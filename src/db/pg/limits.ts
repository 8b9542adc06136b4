import { and, eq, gt, inArray, isNull, lt, sql } from 'drizzle-orm'
import type { AttemptCount, AttemptLimit, AttemptOutcome, AttemptSettlement, DeviceCheck, LimitStore, LoginPeek } from '../store.ts'
import type { PgContext } from './context.ts'
import type { PgTransaction } from './pool-clients.ts'
import { deviceTokens, loginAttempts } from './schema.ts'

/** Settles a successful password check; run inside the caller's transaction (a login's is its session's). */
export async function settleAttempts (tx: PgTransaction, settlement: AttemptSettlement, now: Date): Promise<void> {
  if (settlement.clear.length > 0) await tx.delete(loginAttempts).where(inArray(loginAttempts.key, [...settlement.clear]))
  if (settlement.release.length > 0) {
    await tx.update(loginAttempts).set({ count: sql`greatest(${loginAttempts.count} - 1, 0)` })
      .where(inArray(loginAttempts.key, [...settlement.release]))
  }
  if (settlement.device !== undefined) {
    await tx.update(deviceTokens).set({ failures: 0, lastUsedAt: now }).where(eq(deviceTokens.tokenHash, settlement.device))
  }
}

export class PgLimitStore implements LimitStore {
  readonly #c: PgContext

  constructor (context: PgContext) {
    this.#c = context
  }

  async hit (limits: readonly AttemptLimit[], windowMs: number, now: Date): Promise<AttemptOutcome> {
    await this.#c.ready()
    const resetAt = new Date(now.getTime() + windowMs)
    const stamp = now.toISOString()
    const keys = limits.map((limit) => limit.key)
    return this.#c.transaction(async (tx): Promise<AttemptOutcome> => {
      const live = await tx.select().from(loginAttempts)
        .where(and(inArray(loginAttempts.key, keys), sql`${loginAttempts.resetAt} > ${stamp}`))
      if (live.some((row) => row.count >= limits.find((limit) => limit.key === row.key)!.max)) {
        return { counted: false, counts: live }
      }
      // Two callers may both pass the read above; each increment below is still atomic and returns the count
      // after it, so the caller over the limit is refused all the same.
      const counts: AttemptCount[] = []
      for (const key of keys) {
        const [row] = await tx.insert(loginAttempts).values({ key, count: 1, resetAt })
          .onConflictDoUpdate({
            target: loginAttempts.key,
            set: {
              count: sql`case when ${loginAttempts.resetAt} <= ${stamp} then 1 else ${loginAttempts.count} + 1 end`,
              resetAt: sql`case when ${loginAttempts.resetAt} <= ${stamp} then ${resetAt.toISOString()}::timestamptz else ${loginAttempts.resetAt} end`
            }
          })
          .returning({ count: loginAttempts.count, resetAt: loginAttempts.resetAt })
        counts.push({ key, count: row.count, resetAt: row.resetAt })
      }
      return { counted: true, counts }
    })
  }

  async peek (limits: readonly AttemptLimit[], device: DeviceCheck | undefined, now: Date): Promise<LoginPeek> {
    await this.#c.ready()
    const db = this.#c.db
    const keys = limits.map((limit) => limit.key)
    const [counts, live] = await Promise.all([
      db.select({ key: loginAttempts.key, count: loginAttempts.count, resetAt: loginAttempts.resetAt }).from(loginAttempts)
        .where(and(inArray(loginAttempts.key, keys), gt(loginAttempts.resetAt, now))),
      device === undefined
        ? []
        : db.select({ userId: deviceTokens.userId }).from(deviceTokens).where(and(
          eq(deviceTokens.tokenHash, device.tokenHash), eq(deviceTokens.userId, device.userId), isNull(deviceTokens.revokedAt),
          gt(deviceTokens.expiresAt, now), lt(deviceTokens.failures, device.max)
        ))
    ])
    return { counts, deviceLive: live.length > 0 }
  }

  async settle (settlement: AttemptSettlement, now: Date): Promise<void> {
    await this.#c.ready()
    await this.#c.transaction(async (tx) => { await settleAttempts(tx, settlement, now) })
  }
}
