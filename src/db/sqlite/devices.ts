import { and, eq, isNull } from 'drizzle-orm'
import type { DeviceStore } from '../store.ts'
import { deviceTokens } from './schema.ts'
import type { PreparedStatements } from './statements.ts'
import type { SqliteDatabase } from './store.ts'

export class SqliteDeviceStore implements DeviceStore {
  readonly #db: SqliteDatabase
  readonly #q: PreparedStatements

  constructor (db: SqliteDatabase, q: PreparedStatements) {
    this.#db = db
    this.#q = q
  }

  async hit (tokenHash: string, userId: string, max: number, now: Date): Promise<boolean> {
    return this.#q.hitDeviceToken.run({ tokenHash, userId, max, nowMs: now.getTime() }).changes > 0
  }

  async revokeIfSpent (tokenHash: string, max: number, now: Date): Promise<void> {
    this.#q.revokeSpentDeviceToken.run({ tokenHash, max, nowMs: now.getTime() })
  }

  async revokeForUser (userId: string, now: Date): Promise<number> {
    return this.#db.update(deviceTokens).set({ revokedAt: now })
      .where(and(eq(deviceTokens.userId, userId), isNull(deviceTokens.revokedAt))).run().changes
  }
}
