import { and, eq, gt, inArray, isNull, lte, ne, or, sql } from 'drizzle-orm'
import { randomUUID } from 'node:crypto'
import { ConflictError } from '../../errors.ts'
import type {
  ActionPurpose, ActionStore, ActionTokenRecord, ClaimedOutboxMessage, ConsumedAction, EmailChangeResult, NewActionToken,
  NewOutboxMessage
} from '../store.ts'
import { isUniqueViolation } from '../constraint-violation.ts'
import { actionTokens, deviceTokens, outbox, sessions, type users } from './schema.ts'
import type { PgDatabase } from './store.ts'
import type { PgTransactionRunner } from './pool-clients.ts'

type Tx = Parameters<Parameters<PgDatabase['transaction']>[0]>[0]
type Executor = PgDatabase | Tx

/**
 * Action tokens and the outbox on PostgreSQL. A token is consumed by one conditional UPDATE ... RETURNING in
 * the transaction that makes its change: READ COMMITTED re-checks `used_at is null` after a concurrent use
 * commits, so exactly one caller gets the row. Senders claim messages with FOR UPDATE SKIP LOCKED.
 */
export class PgActionStore implements ActionStore {
  readonly #db: PgDatabase
  readonly #transaction: PgTransactionRunner
  readonly #users: typeof users
  readonly #ready: () => Promise<void>

  constructor (db: PgDatabase, transaction: PgTransactionRunner, usersTable: typeof users, ready: () => Promise<void>) {
    this.#db = db
    this.#transaction = transaction
    this.#users = usersTable
    this.#ready = ready
  }

  async issueActionToken (issue: { token: NewActionToken, message: NewOutboxMessage } | null, now: Date): Promise<void> {
    await this.#ready()
    await this.#transaction(async (tx) => {
      // An unknown address runs the same statements on rows that cannot exist.
      const token = issue?.token
      // One issue per user at a time: a link issued in parallel cannot miss the one it should void.
      await this.#lockUser(tx, token?.userId ?? '')
      await this.#void(tx, token?.userId ?? '', [token?.purpose ?? 'reset_password'], now)
      if (issue === null) {
        await tx.delete(actionTokens).where(eq(actionTokens.tokenHash, randomUUID()))
        await tx.delete(outbox).where(eq(outbox.id, randomUUID()))
        return
      }
      await tx.insert(actionTokens).values(issue.token)
      await enqueue(tx, issue.message)
    })
  }

  async findActionToken (tokenHash: string, purpose: ActionPurpose, now: Date): Promise<ActionTokenRecord | undefined> {
    await this.#ready()
    const [row] = await this.#db.select({
      id: actionTokens.id,
      purpose: actionTokens.purpose,
      userId: actionTokens.userId,
      email: actionTokens.email,
      newEmail: actionTokens.newEmail,
      expiresAt: actionTokens.expiresAt
    }).from(actionTokens).where(and(
      eq(actionTokens.tokenHash, tokenHash), eq(actionTokens.purpose, purpose), isNull(actionTokens.usedAt), gt(actionTokens.expiresAt, now)
    ))
    return row
  }

  async verifyEmail (tokenHash: string, now: Date): Promise<ConsumedAction | undefined> {
    await this.#ready()
    return this.#transaction(async (tx) => {
      const consumed = await this.#consume(tx, tokenHash, 'verify_email', now, true)
      if (consumed === undefined) return undefined
      await tx.update(this.#users).set({ isVerified: true, updatedAt: now })
        .where(and(eq(this.#users.id, consumed.userId), eq(this.#users.email, consumed.email)))
      await this.#void(tx, consumed.userId, ['verify_email'], now)
      return { userId: consumed.userId, email: consumed.email }
    })
  }

  async resetPassword (tokenHash: string, passwordHash: string, notice: NewOutboxMessage, now: Date): Promise<ConsumedAction | undefined> {
    await this.#ready()
    return this.#transaction(async (tx) => {
      await this.#lockOwner(tx, tokenHash)
      const consumed = await this.#consume(tx, tokenHash, 'reset_password', now, true)
      if (consumed === undefined) return undefined
      const { userId } = consumed
      await tx.update(this.#users).set({ passwordHash, isVerified: true, updatedAt: now }).where(eq(this.#users.id, userId))
      await tx.update(sessions).set({ revokedAt: now, revokeReason: 'password_reset' })
        .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
      await tx.update(deviceTokens).set({ revokedAt: now }).where(and(eq(deviceTokens.userId, userId), isNull(deviceTokens.revokedAt)))
      await this.#void(tx, userId, ['reset_password', 'change_email'], now)
      await enqueue(tx, notice)
      return { userId, email: consumed.email }
    })
  }

  async confirmEmailChange (tokenHash: string, notice: (change: EmailChangeResult) => NewOutboxMessage, now: Date, keepSessionId?: string): Promise<EmailChangeResult | undefined> {
    await this.#ready()
    try {
      return await this.#transaction(async (tx) => {
        await this.#lockOwner(tx, tokenHash)
        const consumed = await this.#consume(tx, tokenHash, 'change_email', now, false)
        if (consumed === undefined) return undefined
        const { userId } = consumed
        // A change token always names its new address.
        const newEmail = consumed.newEmail!
        // Locks the user row: a concurrent change of this user waits here.
        const [old] = await tx.select({ email: this.#users.email }).from(this.#users).where(eq(this.#users.id, userId)).for('update')
        await tx.update(this.#users).set({ email: newEmail, isVerified: true, updatedAt: now }).where(eq(this.#users.id, userId))
        await tx.update(sessions).set({ revokedAt: now, revokeReason: 'email_changed' }).where(and(
          eq(sessions.userId, userId), isNull(sessions.revokedAt), keepSessionId === undefined ? undefined : ne(sessions.id, keepSessionId)
        ))
        await tx.update(deviceTokens).set({ revokedAt: now }).where(and(eq(deviceTokens.userId, userId), isNull(deviceTokens.revokedAt)))
        await tx.update(actionTokens).set({ usedAt: now })
          .where(and(isNull(actionTokens.usedAt), or(eq(actionTokens.userId, userId), eq(actionTokens.email, old.email))))
        const change = { userId, email: consumed.email, oldEmail: old.email, newEmail }
        await enqueue(tx, notice(change))
        return change
      })
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('Email is already registered', 'email_taken')
      throw err
    }
  }

  async voidActionTokens (userId: string, purposes: readonly ActionPurpose[], now: Date): Promise<number> {
    await this.#ready()
    return this.#void(this.#db, userId, purposes, now)
  }

  async claimMessages (limit: number, leaseMs: number, now: Date): Promise<ClaimedOutboxMessage[]> {
    await this.#ready()
    const due = this.#db.select({ id: outbox.id }).from(outbox)
      .where(and(lte(outbox.availableAt, now), or(isNull(outbox.claimedUntil), lte(outbox.claimedUntil, now))))
      .orderBy(outbox.availableAt).limit(limit).for('update', { skipLocked: true })
    return this.#db.update(outbox)
      .set({ claimedUntil: new Date(now.getTime() + leaseMs), attempts: sql`${outbox.attempts} + 1` })
      .where(inArray(outbox.id, due))
      .returning({ id: outbox.id, payload: outbox.payload, attempts: outbox.attempts })
  }

  async deleteMessage (id: string): Promise<void> {
    await this.#ready()
    await this.#db.delete(outbox).where(eq(outbox.id, id))
  }

  async retryMessage (id: string, availableAt: Date, error: string): Promise<void> {
    await this.#ready()
    await this.#db.update(outbox).set({ availableAt, claimedUntil: null, lastError: error }).where(eq(outbox.id, id))
  }

  /**
   * The one conditional statement that uses a token: unused, unexpired, of this purpose, its user active and
   * (unless the token names a new address) still at the address it was sent to.
   */
  /**
   * Locks the user a token belongs to before the token is consumed: two links of one user used at once then
   * run one after the other, instead of each holding its token while waiting for the user row the other
   * holds (a deadlock). The second finds its token voided by the first.
   */
  async #lockOwner (tx: Tx, tokenHash: string): Promise<void> {
    const owner = sql`(select ${actionTokens.userId} from ${actionTokens} where ${actionTokens.tokenHash} = ${tokenHash})`
    await tx.select({ id: this.#users.id }).from(this.#users).where(eq(this.#users.id, owner)).for('update')
  }

  async #lockUser (tx: Tx, userId: string): Promise<void> {
    await tx.select({ id: this.#users.id }).from(this.#users).where(eq(this.#users.id, userId)).for('update')
  }

  async #consume (tx: Tx, tokenHash: string, purpose: ActionPurpose, now: Date, sameAddress: boolean) {
    const u = this.#users
    const [row] = await tx.update(actionTokens).set({ usedAt: now }).where(and(
      eq(actionTokens.tokenHash, tokenHash),
      eq(actionTokens.purpose, purpose),
      isNull(actionTokens.usedAt),
      gt(actionTokens.expiresAt, now),
      sql`exists (select 1 from ${u} where ${u.id} = ${actionTokens.userId} and ${u.isActive}
        ${sameAddress ? sql`and ${u.email} = ${actionTokens.email}` : sql``})`
    )).returning({ userId: actionTokens.userId, email: actionTokens.email, newEmail: actionTokens.newEmail })
    return row
  }

  async #void (db: Executor, userId: string, purposes: readonly ActionPurpose[], now: Date): Promise<number> {
    const result = await db.update(actionTokens).set({ usedAt: now }).where(and(
      eq(actionTokens.userId, userId), isNull(actionTokens.usedAt), inArray(actionTokens.purpose, [...purposes])
    ))
    return Number(result.rowCount)
  }
}

async function enqueue (db: Executor, message: NewOutboxMessage): Promise<void> {
  await db.insert(outbox).values({ ...message, availableAt: message.createdAt })
}
