/**
 * The storage contract the service is written against, one facet per concern. One implementation per
 * dialect; every SQL statement of the project lives behind it. Each method is a single atomic unit: a check
 * that must hold for a write to happen is part of the write's own statement or transaction, never a separate
 * read. `fastify-drizzle-auth/testing` proves an implementation (`testAuthStore`). This file and the records
 * import nothing else: an application can implement the contract from these types alone.
 */
import type {
  AccountRecord, AccountSighting, CompletionCode, ConsumedCompletion, LinkOutcome, NewAccount, NewOAuthFlow, OAuthFlowRecord, UnlinkOutcome
} from './account-records.ts'
import type {
  ActionPurpose, ActionTokenRecord, AttemptLimit, AttemptOutcome, AttemptSettlement, CheckedCredentials, ClaimedOutboxMessage, ConsumedAction,
  DeviceCheck, EmailChangeResult, FoundSession, LoginPeek, ModeResult, NewActionToken, NewOutboxMessage, NewSession, NewUserRecord,
  RotationContext, RotationResult, SessionExtras, SessionListing, StoreDiagnostics, StoreLogger, StoreMode, UserPatch, UserRecord
} from './records.ts'

export type * from './records.ts'
export type * from './account-records.ts'

/** The users table, as far as the service writes it. */
export interface UserStore {
  /** Inserts a user; a taken email raises ConflictError('email_taken') from the unique index itself. */
  create (values: NewUserRecord): Promise<UserRecord>
  findByEmail (email: string): Promise<UserRecord | undefined>
  findById (id: string): Promise<UserRecord | undefined>
  update (id: string, patch: UserPatch, now: Date): Promise<UserRecord | undefined>
  /** Replaces the user's password hash only while it is still `oldHash` (rehash at a new cost); true when replaced. */
  replacePasswordHash (userId: string, oldHash: string, newHash: string, now: Date): Promise<boolean>
}

/** Sessions and their refresh tokens; `find` is the hot path. */
export interface SessionStore<M extends StoreMode = StoreMode> {
  /**
   * Inserts the session, its first refresh token (generation 0) and the device token (if any), settles the
   * login's counts (if asked) and stamps the user's last login, together, only while the user is active and
   * still has the password hash the login checked (in the same transaction, so a password change or
   * deactivation committed meanwhile wins). Returns false, writing nothing, when they are not.
   */
  create (session: NewSession, refreshTokenHash: string, credentials: CheckedCredentials, extras?: SessionExtras): Promise<boolean>
  /** Run for every request with a token: one indexed lookup of the session joined with its user. */
  find (sessionId: string): ModeResult<M, FoundSession | undefined>
  /**
   * Consumes `oldHash` and stores `newHash` as the next generation in one transaction, and drops the
   * session's tokens older than the one consumed (a session keeps two rows: the new token and the previous).
   * Only an unused token of a live session of an active user (used after `context.idleCutoff`, when given) is
   * consumed; the statement decides, so concurrent callers cannot both succeed. The session's last use is
   * stamped, and its address updated when `context.ip` is given.
   */
  rotateRefreshToken (oldHash: string, newHash: string, now: Date, context?: RotationContext): Promise<RotationResult>
  /** The session a refresh token belongs to, used or not. */
  findByRefreshToken (tokenHash: string): Promise<string | undefined>
  /** The user's live sessions (not revoked, not expired at `now`), newest first, at most `limit`. */
  listForUser (userId: string, now: Date, limit: number): Promise<SessionListing[]>
  /** Revokes a live session of this user only (one conditional statement); true when it was revoked. */
  revokeOwned (sessionId: string, userId: string, reason: string, now: Date): Promise<boolean>
  /** Revokes a live session; returns its user's id, or undefined when there was no live session. */
  revoke (sessionId: string, reason: string, now: Date): Promise<string | undefined>
  /** Revokes the user's live sessions but `exceptSessionId`; returns how many. */
  revokeForUser (userId: string, reason: string, now: Date, exceptSessionId?: string): Promise<number>
}

/**
 * Fixed-window counters under string keys, shared by every instance on the database: failed logins,
 * registrations, mail requests and token submissions all count here.
 */
export interface LimitStore {
  /**
   * Atomically counts one attempt against each key (a fresh window starts when the old one ended), unless
   * one of the keys is already at its limit: a refused attempt writes nothing.
   */
  hit (limits: readonly AttemptLimit[], windowMs: number, now: Date): Promise<AttemptOutcome>
  /**
   * Writes nothing: the live counts of these keys, and whether `device` is a live device token of its user
   * under `device.max` failures. A login asks once, before it takes a hashing place (to be refused or put in
   * the known devices' lane), and is counted once it holds one.
   */
  peek (limits: readonly AttemptLimit[], device: DeviceCheck | undefined, now: Date): Promise<LoginPeek>
  /** Settles a successful password check that opens no session (a password or email change). */
  settle (settlement: AttemptSettlement, now: Date): Promise<void>
}

/** The device tokens that let a known browser past the address limits (counted on the token itself). */
export interface DeviceStore {
  /**
   * Counts one failed login against a live device token of `userId` that is under `max` failures; false
   * (nothing written) when there is no such token. Counted before the password is compared.
   */
  hit (tokenHash: string, userId: string, max: number, now: Date): Promise<boolean>
  /** After a failed login with the token: the token is revoked once its failures reached `max`. */
  revokeIfSpent (tokenHash: string, max: number, now: Date): Promise<void>
  /** Revokes every device token of the user; returns how many were live. */
  revokeForUser (userId: string, now: Date): Promise<number>
}

/**
 * One-time action tokens and the mail outbox. Every method is one atomic unit: a token is consumed by one
 * conditional statement (unused and unexpired), in the same transaction as the change it authorizes, so of
 * parallel uses exactly one succeeds; a message is written in the transaction of the change it announces.
 */
export interface ActionStore {
  /**
   * Makes the user's earlier unused tokens of the same purpose void, stores the token and queues its message,
   * in one transaction. `null` does the same work on nothing (an unknown address looks like a known one).
   */
  issueActionToken (issue: { token: NewActionToken, message: NewOutboxMessage } | null, now: Date): Promise<void>
  /** The live token of this purpose with that hash, if any (read only: consuming is the write's own job). */
  findActionToken (tokenHash: string, purpose: ActionPurpose, now: Date): Promise<ActionTokenRecord | undefined>
  /** Consumes a live verify_email token sent to the user's current address and marks the user verified. */
  verifyEmail (tokenHash: string, now: Date): Promise<ConsumedAction | undefined>
  /**
   * Consumes a live reset_password token sent to the user's current address, sets the password hash, marks the
   * email verified, revokes every session and device token, voids the user's reset and change tokens and
   * queues `notice`, in one transaction.
   */
  resetPassword (tokenHash: string, passwordHash: string, notice: NewOutboxMessage, now: Date): Promise<ConsumedAction | undefined>
  /**
   * Consumes a live change_email token, moves the user to the new address (ConflictError('email_taken') when it
   * was taken meanwhile, nothing written), marks it verified, revokes the user's sessions but `keepSessionId`
   * and all its device tokens, voids every other token of the user and queues `notice`, in one transaction.
   */
  confirmEmailChange (tokenHash: string, notice: (change: EmailChangeResult) => NewOutboxMessage, now: Date, keepSessionId?: string): Promise<EmailChangeResult | undefined>
  /** Voids the user's unused tokens of these purposes; returns how many. */
  voidActionTokens (userId: string, purposes: readonly ActionPurpose[], now: Date): Promise<number>
  /**
   * Claims up to `limit` due messages for `leaseMs` (counting an attempt on each): on a shared database each
   * message is claimed by one sender at a time; a sender that dies simply lets its lease run out.
   */
  claimMessages (limit: number, leaseMs: number, now: Date): Promise<ClaimedOutboxMessage[]>
  /** A delivered (or abandoned) message goes. */
  deleteMessage (id: string): Promise<void>
  /** A failed attempt: the message waits until `availableAt`, unclaimed. */
  retryMessage (id: string, availableAt: Date, error: string): Promise<void>
}

/**
 * Provider identities and the provider sign-ins in flight. Optional in the contract: a store without it
 * cannot be used with `providers`.
 */
export interface AccountStore {
  /** The identity (provider, subject) with its user. */
  findBySubject (provider: string, subject: string): Promise<{ account: AccountRecord, user: UserRecord } | undefined>
  /**
   * Inserts a user and its first identity in one transaction; a taken email raises ConflictError('email_taken')
   * (as `users.create` does) and writes nothing.
   */
  createWithUser (user: NewUserRecord, account: NewAccount): Promise<{ user: UserRecord, account: AccountRecord }>
  /**
   * Links the identity to `userId`, only while the user is active and, when `verifiedEmail` is given, still has
   * that address, verified: one conditional statement (see LinkOutcome).
   */
  link (userId: string, account: NewAccount, verifiedEmail?: string): Promise<LinkOutcome>
  /** Stamps a sign-in on the identity with what the provider said of the address (and the sealed tokens, when given). */
  sighted (accountId: string, sighting: AccountSighting): Promise<void>
  listForUser (userId: string): Promise<AccountRecord[]>
  /**
   * Removes the user's identity at `provider`, only while the user keeps a password or another identity; one
   * user's unlinks are serialized, so two at once cannot leave the user with no way in.
   */
  unlink (userId: string, provider: string): Promise<UnlinkOutcome>
  /** The sealed tokens kept for the user's identity at `provider`. */
  findTokens (userId: string, provider: string): Promise<{ accountId: string, tokens: string | null } | undefined>
  beginFlow (flow: NewOAuthFlow): Promise<void>
  /** Consumes the live (unused, unexpired) flow of this state at this provider: one conditional statement. */
  consumeFlow (stateHash: string, provider: string, now: Date): Promise<OAuthFlowRecord | undefined>
  /** Gives a consumed flow its completion code. */
  issueCode (code: CompletionCode): Promise<void>
  /** Consumes a live completion code whose client challenge is `clientChallenge` (null: none was given). */
  consumeCode (codeHash: string, clientChallenge: string | null, now: Date): Promise<ConsumedCompletion | undefined>
}

export interface MaintenanceStore {
  /**
   * Deletes ended (expired or revoked) sessions with all their refresh tokens, ended device tokens and ended
   * limit windows, used or expired action tokens; the used refresh tokens of a live session stay, so a replay
   * is still recognised. On a shared database one caller at a time purges (the others return 0). Returns how
   * many rows went.
   */
  purgeExpired (now: Date): Promise<number>
}

export interface AuthStore<M extends StoreMode = StoreMode> {
  /** A name for logs and errors, e.g. 'sqlite' or 'postgresql'. */
  readonly dialect: string
  /** How `sessions.find` answers. */
  readonly mode: M
  readonly users: UserStore
  readonly sessions: SessionStore<M>
  readonly limits: LimitStore
  readonly devices: DeviceStore
  /** One-time action tokens and the mail outbox. */
  readonly actions: ActionStore
  readonly maintenance: MaintenanceStore
  /** Provider identities (needed by `providers`). */
  readonly accounts?: AccountStore

  /** Resolves once the store can answer (its migrations applied); a failure is retried by the next call. */
  ready (): Promise<void>
  /** Optional: where the store tells of problems it meets in the background (a cache that stopped listening). */
  setLogger? (log: StoreLogger): void
  /** Optional: a snapshot of the store's internal counters (its remembered lookups, say). */
  diagnostics? (): StoreDiagnostics
  close (): Promise<void>
}

/** A store of either mode, narrowed by `mode`. */
export type AnyAuthStore = AuthStore<'sync'> | AuthStore<'async'>
