import type Database from 'better-sqlite3'
import { and, eq, gt, inArray, isNull, lte, ne, or, sql } from 'drizzle-orm'
import { randomUUID } from 'node:crypto'
import { ConflictError } from '../../errors.ts'
import type {
  ActionPurpose, ActionStore, ActionTokenRecord, ClaimedOutboxMessage, ConsumedAction, EmailChangeResult, NewActionToken,
  NewOutboxMessage
} from '../store.ts'
import { isUniqueViolation } from '../constraint-violation.ts'
import { actionTokens, deviceTokens, outbox, sessions, type users } from './schema.ts'
import type { SqliteDatabase } from './store.ts'

/**
 * Action tokens and the outbox on better-sqlite3. Each method is one synchronous BEGIN IMMEDIATE transaction
 * (or one statement): the token is consumed by a conditional UPDATE ... RETURNING inside the transaction that
 * makes its change, so a second use finds nothing to consume.
 */
export class SqliteActionStore implements ActionStore {
  readonly #db: SqliteDatabase
  readonly #users: typeof users
  readonly #issue: Database.Transaction<(issue: { token: NewActionToken, message: NewOutboxMessage } | null, now: Date) => void>
  readonly #verify: Database.Transaction<(tokenHash: string, now: Date) => ConsumedAction | undefined>
  readonly #reset: Database.Transaction<(tokenHash: string, passwordHash: string, notice: NewOutboxMessage, now: Date) => ConsumedAction | undefined>
  readonly #change: Database.Transaction<(tokenHash: string, notice: (change: EmailChangeResult) => NewOutboxMessage, now: Date, keep?: string) => EmailChangeResult | undefined>

  constructor (db: SqliteDatabase, usersTable: typeof users) {
    this.#db = db
    this.#users = usersTable
    const client = (db as unknown as { $client: Database.Database }).$client

    this.#issue = client.transaction((issue: { token: NewActionToken, message: NewOutboxMessage } | null, now: Date) => {
      // An unknown address runs the same statements on rows that cannot exist.
      const token = issue?.token
      this.#void(token?.userId ?? '', [token?.purpose ?? 'reset_password'], now)
      if (issue === null) {
        db.delete(actionTokens).where(eq(actionTokens.tokenHash, randomUUID())).run()
        db.delete(outbox).where(eq(outbox.id, randomUUID())).run()
        return
      }
      db.insert(actionTokens).values(issue.token).run()
      this.#enqueue(issue.message)
    })

    this.#verify = client.transaction((tokenHash: string, now: Date) => {
      const consumed = this.#consume(tokenHash, 'verify_email', now, true)
      if (consumed === undefined) return undefined
      db.update(this.#users).set({ isVerified: true, updatedAt: now })
        .where(and(eq(this.#users.id, consumed.userId), eq(this.#users.email, consumed.email))).run()
      this.#void(consumed.userId, ['verify_email'], now)
      return { userId: consumed.userId, email: consumed.email }
    })

    this.#reset = client.transaction((tokenHash: string, passwordHash: string, notice: NewOutboxMessage, now: Date) => {
      const consumed = this.#consume(tokenHash, 'reset_password', now, true)
      if (consumed === undefined) return undefined
      const { userId } = consumed
      db.update(this.#users).set({ passwordHash, isVerified: true, updatedAt: now }).where(eq(this.#users.id, userId)).run()
      db.update(sessions).set({ revokedAt: now, revokeReason: 'password_reset' })
        .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt))).run()
      db.update(deviceTokens).set({ revokedAt: now }).where(and(eq(deviceTokens.userId, userId), isNull(deviceTokens.revokedAt))).run()
      this.#void(userId, ['reset_password', 'change_email'], now)
      this.#enqueue(notice)
      return { userId, email: consumed.email }
    })

    this.#change = client.transaction((tokenHash: string, notice: (change: EmailChangeResult) => NewOutboxMessage, now: Date, keep?: string) => {
      const consumed = this.#consume(tokenHash, 'change_email', now, false)
      // A change token always names its new address.
      if (consumed === undefined) return undefined
      const { userId } = consumed
      const newEmail = consumed.newEmail!
      const old = db.select({ email: this.#users.email }).from(this.#users).where(eq(this.#users.id, userId)).get()!
      db.update(this.#users).set({ email: newEmail, isVerified: true, updatedAt: now }).where(eq(this.#users.id, userId)).run()
      db.update(sessions).set({ revokedAt: now, revokeReason: 'email_changed' }).where(and(
        eq(sessions.userId, userId), isNull(sessions.revokedAt), keep === undefined ? undefined : ne(sessions.id, keep)
      )).run()
      db.update(deviceTokens).set({ revokedAt: now }).where(and(eq(deviceTokens.userId, userId), isNull(deviceTokens.revokedAt))).run()
      db.update(actionTokens).set({ usedAt: now })
        .where(and(isNull(actionTokens.usedAt), or(eq(actionTokens.userId, userId), eq(actionTokens.email, old.email)))).run()
      const change = { userId, email: consumed.email, oldEmail: old.email, newEmail }
      this.#enqueue(notice(change))
      return change
    })
  }

  async issueActionToken (issue: { token: NewActionToken, message: NewOutboxMessage } | null, now: Date): Promise<void> {
    this.#issue.immediate(issue, now)
  }

  async findActionToken (tokenHash: string, purpose: ActionPurpose, now: Date): Promise<ActionTokenRecord | undefined> {
    return this.#db.select({
      id: actionTokens.id,
      purpose: actionTokens.purpose,
      userId: actionTokens.userId,
      email: actionTokens.email,
      newEmail: actionTokens.newEmail,
      expiresAt: actionTokens.expiresAt
    }).from(actionTokens).where(and(
      eq(actionTokens.tokenHash, tokenHash), eq(actionTokens.purpose, purpose), isNull(actionTokens.usedAt), gt(actionTokens.expiresAt, now)
    )).get()
  }

  async verifyEmail (tokenHash: string, now: Date): Promise<ConsumedAction | undefined> {
    return this.#verify.immediate(tokenHash, now)
  }

  async resetPassword (tokenHash: string, passwordHash: string, notice: NewOutboxMessage, now: Date): Promise<ConsumedAction | undefined> {
    return this.#reset.immediate(tokenHash, passwordHash, notice, now)
  }

  async confirmEmailChange (tokenHash: string, notice: (change: EmailChangeResult) => NewOutboxMessage, now: Date, keepSessionId?: string): Promise<EmailChangeResult | undefined> {
    try {
      return this.#change.immediate(tokenHash, notice, now, keepSessionId)
    } catch (err) {
      // The whole transaction was rolled back: the token stays usable, nothing changed.
      if (isUniqueViolation(err)) throw new ConflictError('Email is already registered', 'email_taken')
      throw err
    }
  }

  async voidActionTokens (userId: string, purposes: readonly ActionPurpose[], now: Date): Promise<number> {
    return this.#void(userId, purposes, now)
  }

  async claimMessages (limit: number, leaseMs: number, now: Date): Promise<ClaimedOutboxMessage[]> {
    const nowMs = now.getTime()
    // One statement: SQLite runs it under its write lock, so two processes on one file never claim the same row.
    return this.#db.update(outbox)
      .set({ claimedUntil: new Date(nowMs + leaseMs), attempts: sql`${outbox.attempts} + 1` })
      .where(inArray(outbox.id, this.#db.select({ id: outbox.id }).from(outbox)
        .where(and(lte(outbox.availableAt, now), or(isNull(outbox.claimedUntil), lte(outbox.claimedUntil, now))))
        .orderBy(outbox.availableAt).limit(limit)))
      .returning({ id: outbox.id, payload: outbox.payload, attempts: outbox.attempts }).all()
  }

  async deleteMessage (id: string): Promise<void> {
    this.#db.delete(outbox).where(eq(outbox.id, id)).run()
  }

  async retryMessage (id: string, availableAt: Date, error: string): Promise<void> {
    this.#db.update(outbox).set({ availableAt, claimedUntil: null, lastError: error }).where(eq(outbox.id, id)).run()
  }

  /**
   * The one conditional statement that uses a token: unused, unexpired, of this purpose, its user active and
   * (unless the token names a new address) still at the address it was sent to.
   */
  #consume (tokenHash: string, purpose: ActionPurpose, now: Date, sameAddress: boolean) {
    const u = this.#users
    return this.#db.update(actionTokens).set({ usedAt: now }).where(and(
      eq(actionTokens.tokenHash, tokenHash),
      eq(actionTokens.purpose, purpose),
      isNull(actionTokens.usedAt),
      gt(actionTokens.expiresAt, now),
      sql`exists (select 1 from ${u} where ${u.id} = ${actionTokens.userId} and ${u.isActive} = 1
        ${sameAddress ? sql`and ${u.email} = ${actionTokens.email}` : sql``})`
    )).returning({ userId: actionTokens.userId, email: actionTokens.email, newEmail: actionTokens.newEmail }).get()
  }

  #void (userId: string, purposes: readonly ActionPurpose[], now: Date): number {
    return this.#db.update(actionTokens).set({ usedAt: now }).where(and(
      eq(actionTokens.userId, userId), isNull(actionTokens.usedAt), inArray(actionTokens.purpose, [...purposes])
    )).run().changes
  }

  #enqueue (message: NewOutboxMessage): void {
    this.#db.insert(outbox).values({ ...message, availableAt: message.createdAt }).run()
  }
}
