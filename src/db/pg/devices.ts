import { and, eq, gt, gte, isNull, lt, sql } from 'drizzle-orm'
import type { DeviceStore } from '../store.ts'
import type { PgContext } from './context.ts'
import { deviceTokens } from './schema.ts'

export class PgDeviceStore implements DeviceStore {
  readonly #c: PgContext

  constructor (context: PgContext) {
    this.#c = context
  }

  async hit (tokenHash: string, userId: string, max: number, now: Date): Promise<boolean> {
    await this.#c.ready()
    const result = await this.#c.db.update(deviceTokens).set({ failures: sql`${deviceTokens.failures} + 1` })
      .where(and(
        eq(deviceTokens.tokenHash, tokenHash),
        eq(deviceTokens.userId, userId),
        isNull(deviceTokens.revokedAt),
        gt(deviceTokens.expiresAt, now),
        lt(deviceTokens.failures, max)
      ))
    return Number(result.rowCount) > 0
  }

  async revokeIfSpent (tokenHash: string, max: number, now: Date): Promise<void> {
    await this.#c.ready()
    await this.#c.db.update(deviceTokens).set({ revokedAt: now })
      .where(and(eq(deviceTokens.tokenHash, tokenHash), isNull(deviceTokens.revokedAt), gte(deviceTokens.failures, max)))
  }

  async revokeForUser (userId: string, now: Date): Promise<number> {
    await this.#c.ready()
    const result = await this.#c.db.update(deviceTokens).set({ revokedAt: now })
      .where(and(eq(deviceTokens.userId, userId), isNull(deviceTokens.revokedAt)))
    return Number(result.rowCount)
  }
}
