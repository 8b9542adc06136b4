import { and, eq, gt, isNull, sql } from 'drizzle-orm'
import type {
  AccountRecord, AccountSighting, AccountStore, CompletionCode, ConsumedCompletion, LinkOutcome, NewAccount, NewOAuthFlow, NewUserRecord,
  OAuthFlowRecord, UnlinkOutcome, UserRecord
} from '../store.ts'
import { accountColumns, flowColumns, linkOutcome } from '../account-columns.ts'
import { userInsertError } from '../constraint-violation.ts'
import { accounts, oauthFlows, type users } from './schema.ts'
import type { SqliteDatabase } from './store.ts'

const listed = accountColumns(accounts)

export class SqliteAccountStore implements AccountStore {
  readonly #db: SqliteDatabase
  readonly #users: typeof users

  constructor (db: SqliteDatabase, usersTable: typeof users) {
    this.#db = db
    this.#users = usersTable
  }

  async findBySubject (provider: string, subject: string): Promise<{ account: AccountRecord, user: UserRecord } | undefined> {
    return this.#db.select({ account: listed, user: this.#users }).from(accounts)
      .innerJoin(this.#users, eq(this.#users.id, accounts.userId))
      .where(and(eq(accounts.provider, provider), eq(accounts.subject, subject))).get()
  }

  async createWithUser (user: NewUserRecord, account: NewAccount): Promise<{ user: UserRecord, account: AccountRecord }> {
    try {
      return this.#db.transaction((tx) => {
        const created = tx.insert(this.#users).values(user as typeof users.$inferInsert).returning().get()
        const linked = tx.insert(accounts).values({ ...account, userId: created.id }).returning(listed).get()
        return { user: created, account: linked }
      }, { behavior: 'immediate' })
    } catch (err) {
      throw userInsertError(err)
    }
  }

  async link (userId: string, account: NewAccount, verifiedEmail?: string): Promise<LinkOutcome> {
    const u = this.#users
    return this.#db.transaction((tx) => {
      const holder = tx.select({ userId: accounts.userId }).from(accounts)
        .where(and(eq(accounts.provider, account.provider), eq(accounts.subject, account.subject))).get()
      const taken = tx.select({ id: accounts.id }).from(accounts).where(and(eq(accounts.userId, userId), eq(accounts.provider, account.provider))).get()
      const early = linkOutcome(userId, holder?.userId, taken !== undefined)
      if (early !== undefined) return early
      const emailHolds = verifiedEmail === undefined ? sql`1` : and(eq(u.email, verifiedEmail), sql`${u.isVerified} = 1`)
      // The user's row decides in the same statement: gone, deactivated or moved to another address meanwhile, nothing is written.
      const inserted = tx.insert(accounts).select(tx.select({
        id: sql`${account.id}`.as('id'),
        userId: u.id,
        provider: sql`${account.provider}`.as('provider'),
        subject: sql`${account.subject}`.as('subject'),
        email: sql`${account.email}`.as('email'),
        emailVerified: sql`${account.emailVerified ? 1 : 0}`.as('email_verified'),
        tokens: sql`${account.tokens}`.as('tokens'),
        createdAt: sql`${account.createdAt.getTime()}`.as('created_at'),
        lastLoginAt: sql`null`.as('last_login_at')
      }).from(u).where(and(eq(u.id, userId), sql`${u.isActive} = 1`, emailHolds))).run()
      return inserted.changes === 1 ? 'linked' : 'refused'
    }, { behavior: 'immediate' })
  }

  async sighted (accountId: string, sighting: AccountSighting): Promise<void> {
    const { email, emailVerified, tokens, now } = sighting
    this.#db.update(accounts).set({ email, emailVerified, lastLoginAt: now, ...(tokens === undefined ? {} : { tokens }) })
      .where(eq(accounts.id, accountId)).run()
  }

  async listForUser (userId: string): Promise<AccountRecord[]> {
    return this.#db.select(listed).from(accounts).where(eq(accounts.userId, userId)).orderBy(accounts.createdAt).all()
  }

  async unlink (userId: string, provider: string): Promise<UnlinkOutcome> {
    const u = this.#users
    // BEGIN IMMEDIATE: one writer at a time, so two unlinks of one user cannot both see the other's identity.
    return this.#db.transaction((tx) => {
      const keeps = sql`(exists (select 1 from ${u} where ${u.id} = ${userId} and ${u.passwordHash} is not null)
        or exists (select 1 from ${accounts} where ${accounts.userId} = ${userId} and ${accounts.provider} <> ${provider}))`
      const removed = tx.delete(accounts).where(and(eq(accounts.userId, userId), eq(accounts.provider, provider), keeps)).run().changes
      if (removed === 1) return 'unlinked'
      const linked = tx.select({ id: accounts.id }).from(accounts).where(and(eq(accounts.userId, userId), eq(accounts.provider, provider))).get()
      return linked === undefined ? 'not_linked' : 'last_sign_in_method'
    }, { behavior: 'immediate' })
  }

  async findTokens (userId: string, provider: string): Promise<{ accountId: string, tokens: string | null } | undefined> {
    return this.#db.select({ accountId: accounts.id, tokens: accounts.tokens }).from(accounts)
      .where(and(eq(accounts.userId, userId), eq(accounts.provider, provider))).get()
  }

  async beginFlow (flow: NewOAuthFlow): Promise<void> {
    this.#db.insert(oauthFlows).values(flow).run()
  }

  async consumeFlow (stateHash: string, provider: string, now: Date): Promise<OAuthFlowRecord | undefined> {
    return this.#db.update(oauthFlows).set({ usedAt: now })
      .where(and(eq(oauthFlows.stateHash, stateHash), eq(oauthFlows.provider, provider), isNull(oauthFlows.usedAt), gt(oauthFlows.expiresAt, now)))
      .returning(flowColumns(oauthFlows)).get()
  }

  async issueCode (code: CompletionCode): Promise<void> {
    this.#db.update(oauthFlows).set({ codeHash: code.codeHash, codeUserId: code.userId, codeAccountId: code.accountId, codeProfile: code.profile ?? null, codeExpiresAt: code.expiresAt })
      .where(and(eq(oauthFlows.id, code.flowId), isNull(oauthFlows.codeHash))).run()
  }

  async consumeCode (codeHash: string, clientChallenge: string | null, now: Date): Promise<ConsumedCompletion | undefined> {
    const row = this.#db.update(oauthFlows).set({ codeUsedAt: now })
      .where(and(
        eq(oauthFlows.codeHash, codeHash), isNull(oauthFlows.codeUsedAt), gt(oauthFlows.codeExpiresAt, now),
        clientChallenge === null ? isNull(oauthFlows.clientChallenge) : eq(oauthFlows.clientChallenge, clientChallenge)
      ))
      .returning({ userId: oauthFlows.codeUserId, accountId: oauthFlows.codeAccountId, provider: oauthFlows.provider, profile: oauthFlows.codeProfile }).get()
    return row === undefined ? undefined : { ...row, userId: row.userId! }
  }
}
