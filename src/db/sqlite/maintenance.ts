import { lte, or, sql } from 'drizzle-orm'
import { endedFlows } from '../account-columns.ts'
import type { MaintenanceStore } from '../store.ts'
import { actionTokens, deviceTokens, loginAttempts, oauthFlows, refreshTokens, sessions } from './schema.ts'
import type { SqliteDatabase } from './store.ts'

export class SqliteMaintenanceStore implements MaintenanceStore {
  readonly #db: SqliteDatabase

  constructor (db: SqliteDatabase) {
    this.#db = db
  }

  async purgeExpired (now: Date): Promise<number> {
    return this.#db.transaction((tx) => {
      // Tokens first: counting them separately keeps the total honest (the cascade would hide them).
      const deadSessions = or(lte(sessions.expiresAt, now), sql`${sessions.revokedAt} is not null`)
      const tokens = tx.delete(refreshTokens)
        .where(sql`${refreshTokens.sessionId} in (select ${sessions.id} from ${sessions} where ${deadSessions})`).run().changes
      const dead = tx.delete(sessions).where(deadSessions).run().changes
      const devices = tx.delete(deviceTokens)
        .where(or(lte(deviceTokens.expiresAt, now), sql`${deviceTokens.revokedAt} is not null`)).run().changes
      const counters = tx.delete(loginAttempts).where(lte(loginAttempts.resetAt, now)).run().changes
      const actions = tx.delete(actionTokens).where(or(lte(actionTokens.expiresAt, now), sql`${actionTokens.usedAt} is not null`)).run().changes
      const flows = tx.delete(oauthFlows).where(endedFlows(oauthFlows, now)).run().changes
      return tokens + dead + devices + counters + actions + flows
    }, { behavior: 'immediate' })
  }
}
