import { lte, or, sql } from 'drizzle-orm'
import { endedFlows } from '../account-columns.ts'
import type { MaintenanceStore } from '../store.ts'
import type { PgContext } from './context.ts'
import { actionTokens, deviceTokens, loginAttempts, oauthFlows, refreshTokens, sessions } from './schema.ts'

// One purge at a time across every instance on the database (a transaction-level advisory lock).
const PURGE_LOCK = sql`select pg_try_advisory_xact_lock(hashtext('fastify-drizzle-auth:purge')) as locked`

export class PgMaintenanceStore implements MaintenanceStore {
  readonly #c: PgContext

  constructor (context: PgContext) {
    this.#c = context
  }

  async purgeExpired (now: Date): Promise<number> {
    await this.#c.ready()
    return this.#c.transaction(async (tx) => {
      const { rows: [lock] } = await tx.execute<{ locked: boolean }>(PURGE_LOCK)
      if (lock?.locked !== true) return 0
      const deadSessions = or(lte(sessions.expiresAt, now), sql`${sessions.revokedAt} is not null`)
      const tokens = await tx.delete(refreshTokens)
        .where(sql`${refreshTokens.sessionId} in (select ${sessions.id} from ${sessions} where ${deadSessions})`)
      const dead = await tx.delete(sessions).where(deadSessions)
      const devices = await tx.delete(deviceTokens).where(or(lte(deviceTokens.expiresAt, now), sql`${deviceTokens.revokedAt} is not null`))
      const counters = await tx.delete(loginAttempts).where(lte(loginAttempts.resetAt, now))
      const actions = await tx.delete(actionTokens).where(or(lte(actionTokens.expiresAt, now), sql`${actionTokens.usedAt} is not null`))
      const flows = await tx.delete(oauthFlows).where(endedFlows(oauthFlows, now))
      return [tokens, dead, devices, counters, actions, flows].reduce((sum, result) => sum + Number(result.rowCount), 0)
    })
  }
}
