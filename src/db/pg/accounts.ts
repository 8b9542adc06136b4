import { and, eq, gt, isNull, sql } from 'drizzle-orm'
import type {
  AccountRecord, AccountSighting, AccountStore, CompletionCode, ConsumedCompletion, LinkOutcome, NewAccount, NewOAuthFlow, NewUserRecord,
  OAuthFlowRecord, UnlinkOutcome, UserRecord
} from '../store.ts'
import { accountColumns, flowColumns, linkOutcome } from '../account-columns.ts'
import { userInsertError } from '../constraint-violation.ts'
import type { PgContext } from './context.ts'
import type { PgTransaction } from './pool-clients.ts'
import { accounts, oauthFlows, type users } from './schema.ts'

const listed = accountColumns(accounts)

/** One writer of an identity at a time (until commit): a link and a first sign-in of the same identity queue, never collide. */
async function lockIdentity (tx: PgTransaction, account: NewAccount): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`fastify-drizzle-auth:identity:${account.provider}:${account.subject}`}))`)
}

/**
 * Identities and provider flows on PostgreSQL. A link or an unlink first locks the user's row (FOR UPDATE), so
 * one user's links and unlinks run one at a time and each sees what the one before it wrote; a link or a first
 * sign-in also holds a lock on the identity, so two of them never race on its unique index; flows and codes
 * are consumed by one conditional UPDATE ... RETURNING each.
 */
export class PgAccountStore implements AccountStore {
  readonly #c: PgContext

  constructor (context: PgContext) {
    this.#c = context
  }

  async findBySubject (provider: string, subject: string): Promise<{ account: AccountRecord, user: UserRecord } | undefined> {
    await this.#c.ready()
    const u = this.#c.users
    const [row] = await this.#c.db.select({ account: listed, user: u }).from(accounts).innerJoin(u, eq(u.id, accounts.userId))
      .where(and(eq(accounts.provider, provider), eq(accounts.subject, subject)))
    return row
  }

  async createWithUser (user: NewUserRecord, account: NewAccount): Promise<{ user: UserRecord, account: AccountRecord }> {
    await this.#c.ready()
    try {
      return await this.#c.transaction(async (tx) => {
        await lockIdentity(tx, account)
        const [created] = await tx.insert(this.#c.users).values(user as typeof users.$inferInsert).returning()
        const [linked] = await tx.insert(accounts).values({ ...account, userId: created.id }).returning(listed)
        return { user: created, account: linked }
      })
    } catch (err) {
      throw userInsertError(err)
    }
  }

  async link (userId: string, account: NewAccount, verifiedEmail?: string): Promise<LinkOutcome> {
    await this.#c.ready()
    const u = this.#c.users
    return this.#c.transaction(async (tx) => {
      const conditions = [eq(u.id, userId), eq(u.isActive, true)]
      if (verifiedEmail !== undefined) conditions.push(eq(u.email, verifiedEmail), eq(u.isVerified, true))
      // Locks the user's row while it still meets the condition: a deactivation or an address change waits, or wins.
      const [holds] = await tx.select({ id: u.id }).from(u).where(and(...conditions)).for('update')
      await lockIdentity(tx, account)
      const early = await this.#taken(tx, userId, account)
      if (early !== undefined) return early
      if (holds === undefined) return 'refused'
      await tx.insert(accounts).values({ ...account, userId })
      return 'linked'
    })
  }

  async #taken (tx: PgTransaction, userId: string, account: NewAccount): Promise<LinkOutcome | undefined> {
    const [holder] = await tx.select({ userId: accounts.userId }).from(accounts)
      .where(and(eq(accounts.provider, account.provider), eq(accounts.subject, account.subject)))
    const [taken] = await tx.select({ id: accounts.id }).from(accounts).where(and(eq(accounts.userId, userId), eq(accounts.provider, account.provider)))
    return linkOutcome(userId, holder?.userId, taken !== undefined)
  }

  async sighted (accountId: string, sighting: AccountSighting): Promise<void> {
    await this.#c.ready()
    const { email, emailVerified, tokens, now } = sighting
    await this.#c.db.update(accounts).set({ email, emailVerified, lastLoginAt: now, ...(tokens === undefined ? {} : { tokens }) })
      .where(eq(accounts.id, accountId))
  }

  async listForUser (userId: string): Promise<AccountRecord[]> {
    await this.#c.ready()
    return this.#c.db.select(listed).from(accounts).where(eq(accounts.userId, userId)).orderBy(accounts.createdAt)
  }

  async unlink (userId: string, provider: string): Promise<UnlinkOutcome> {
    await this.#c.ready()
    const u = this.#c.users
    return this.#c.transaction(async (tx) => {
      const [user] = await tx.select({ passwordHash: u.passwordHash }).from(u).where(eq(u.id, userId)).for('update')
      const keeps = sql`(${user?.passwordHash ?? null}::text is not null
        or exists (select 1 from ${accounts} where ${accounts.userId} = ${userId} and ${accounts.provider} <> ${provider}))`
      const removed = await tx.delete(accounts).where(and(eq(accounts.userId, userId), eq(accounts.provider, provider), keeps)).returning({ id: accounts.id })
      if (removed.length === 1) return 'unlinked'
      const [linked] = await tx.select({ id: accounts.id }).from(accounts).where(and(eq(accounts.userId, userId), eq(accounts.provider, provider)))
      return linked === undefined ? 'not_linked' : 'last_sign_in_method'
    })
  }

  async findTokens (userId: string, provider: string): Promise<{ accountId: string, tokens: string | null } | undefined> {
    await this.#c.ready()
    const [row] = await this.#c.db.select({ accountId: accounts.id, tokens: accounts.tokens }).from(accounts)
      .where(and(eq(accounts.userId, userId), eq(accounts.provider, provider)))
    return row
  }

  async beginFlow (flow: NewOAuthFlow): Promise<void> {
    await this.#c.ready()
    await this.#c.db.insert(oauthFlows).values(flow)
  }

  async consumeFlow (stateHash: string, provider: string, now: Date): Promise<OAuthFlowRecord | undefined> {
    await this.#c.ready()
    const [row] = await this.#c.db.update(oauthFlows).set({ usedAt: now })
      .where(and(eq(oauthFlows.stateHash, stateHash), eq(oauthFlows.provider, provider), isNull(oauthFlows.usedAt), gt(oauthFlows.expiresAt, now)))
      .returning(flowColumns(oauthFlows))
    return row
  }

  async issueCode (code: CompletionCode): Promise<void> {
    await this.#c.ready()
    await this.#c.db.update(oauthFlows)
      .set({ codeHash: code.codeHash, codeUserId: code.userId, codeAccountId: code.accountId, codeProfile: code.profile ?? null, codeExpiresAt: code.expiresAt })
      .where(and(eq(oauthFlows.id, code.flowId), isNull(oauthFlows.codeHash)))
  }

  async consumeCode (codeHash: string, clientChallenge: string | null, now: Date): Promise<ConsumedCompletion | undefined> {
    await this.#c.ready()
    const [row] = await this.#c.db.update(oauthFlows).set({ codeUsedAt: now })
      .where(and(
        eq(oauthFlows.codeHash, codeHash), isNull(oauthFlows.codeUsedAt), gt(oauthFlows.codeExpiresAt, now),
        clientChallenge === null ? isNull(oauthFlows.clientChallenge) : eq(oauthFlows.clientChallenge, clientChallenge)
      ))
      .returning({ userId: oauthFlows.codeUserId, accountId: oauthFlows.codeAccountId, provider: oauthFlows.provider, profile: oauthFlows.codeProfile })
    return row === undefined ? undefined : { ...row, userId: row.userId! }
  }
}
