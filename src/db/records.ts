/**
 * The rows and answers the storage contract (store.ts) speaks in. Imports nothing: an application can
 * implement the contract from these types alone.
 */

/** A user row as the service sees it; application tables may carry more columns. */
export interface UserRecord {
  id: string
  email: string
  passwordHash: string | null
  isActive: boolean
  isVerified: boolean
  lastLogin: Date | null
  joinedAt: Date
  createdAt: Date
  updatedAt: Date
}

export interface NewUserRecord {
  email: string
  passwordHash: string | null
  isActive?: boolean
  isVerified?: boolean
  [column: string]: unknown
}

export type UserPatch = Partial<Pick<UserRecord, 'passwordHash' | 'isActive' | 'isVerified' | 'lastLogin'>>

export interface NewSession {
  id: string
  userId: string
  createdAt: Date
  expiresAt: Date
  userAgent: string | null
  ip: string | null
  /** How it was made: 'password' (the default) or 'oauth:<provider>'. */
  method?: string
}

/** A live session as its owner may see it: where and when, never a token or a hash. */
export interface SessionListing {
  id: string
  createdAt: Date
  lastUsedAt: Date
  expiresAt: Date
  ip: string | null
  userAgent: string | null
  method: string
}

export interface SessionState {
  id: string
  userId: string
  expiresAt: Date
  revokedAt: Date | null
}

/** A user row without its password hash, as the hot path hands it on (application columns included). */
export type PublicUserRecord = Omit<UserRecord, 'passwordHash'>

/** The hot path's answer: finished (mapped, hash-free) and immutable, so one answer may serve many requests. */
export interface FoundSession {
  readonly session: Readonly<SessionState>
  readonly user: Readonly<PublicUserRecord>
}

/** Whether the store answers the hot-path lookup synchronously (an embedded database) or with a promise. */
export type StoreMode = 'sync' | 'async'

/** `T` itself for a synchronous store, a promise of it for an asynchronous one (Drizzle's own convention). */
export type ModeResult<M extends StoreMode, T> = M extends 'sync' ? T : Promise<T>

/** The credentials a login checked: its session is created only while they are still the user's. */
export interface CheckedCredentials {
  passwordHash: string | null
}

export interface NewDeviceToken {
  tokenHash: string
  expiresAt: Date
}

/** What happened to a refresh token presented for rotation. */
export type RotationResult =
  | { outcome: 'rotated', sessionId: string, userId: string, generation: number, /** When the session ends. */ expiresAt: Date, /** How it was made (optional for older stores: 'password'). */ method?: string }
  | { outcome: 'unknown' }
  | {
    outcome: 'spent'
    session: SessionState
    generation: number
    /** The newest generation issued in this token's session. */
    latestGeneration: number
    usedAt: Date | null
    /** When the session was last signed in to or refreshed. */
    lastUsedAt: Date
    /** False when the session's user is inactive or gone (an unused token is then not consumed). */
    userActive: boolean
  }

/** What a refresh tells the rotation besides the tokens. */
export interface RotationContext {
  /** The address the refresh came from: recorded as the session's latest (null or absent: kept). */
  ip?: string | null
  /** Consumed only while the session was last used after this (the idle timeout); absent: no idle limit. */
  idleCutoff?: Date
}

export interface AttemptLimit {
  key: string
  /** Attempts allowed within the window. */
  max: number
}

export interface AttemptCount {
  key: string
  count: number
  resetAt: Date
}

export interface AttemptOutcome {
  /**
   * False when a key was already at its limit in a live window: then nothing was written and `counts` holds
   * the live counts as they stood. True when one attempt was counted against every key (`counts` after it).
   */
  counted: boolean
  counts: AttemptCount[]
}

export type ActionPurpose = 'verify_email' | 'reset_password' | 'change_email'

export interface NewActionToken {
  id: string
  tokenHash: string
  purpose: ActionPurpose
  userId: string
  /** The address the token is sent to. */
  email: string
  /** The pending new address (change_email only). */
  newEmail: string | null
  createdAt: Date
  expiresAt: Date
}

/** A live (unused, unexpired) action token as read back. */
export interface ActionTokenRecord {
  id: string
  purpose: ActionPurpose
  userId: string
  email: string
  newEmail: string | null
  expiresAt: Date
}

/** A message for the outbox: its body is already sealed (encrypted) by the service. */
export interface NewOutboxMessage {
  id: string
  payload: string
  createdAt: Date
}

export interface ClaimedOutboxMessage {
  id: string
  payload: string
  /** Delivery attempts so far, this one included. */
  attempts: number
}

/** What a consumed token changed, for the service's events and notices. */
export interface ConsumedAction {
  userId: string
  /** The address the token was sent to. */
  email: string
}

export interface EmailChangeResult extends ConsumedAction {
  oldEmail: string
  newEmail: string
}

export interface DeviceCheck {
  tokenHash: string
  userId: string
  max: number
}

export interface LoginPeek {
  /** The live counts among the keys asked (a key with no live window is left out). */
  counts: AttemptCount[]
  deviceLive: boolean
}

export interface StoreLogger {
  warn (details: object, message: string): void
}

/**
 * What a successful password check gives back, settled in one call (with the session it opens, when it
 * opens one): the windows that are forgotten, the windows that take back the attempt they counted, and a
 * device token whose failures go back to 0.
 */
export interface AttemptSettlement {
  /** Keys whose window goes (the email and address a login succeeded from). */
  clear: readonly string[]
  /** Keys that take back one counted attempt (a success does not use up an address's allowance). */
  release: readonly string[]
  /** The hash of a device token the check was counted on: its failures go back to 0 and its last use is stamped. */
  device?: string
}

/** What a login writes besides its session: a new device token, and the settlement of its counts. */
export interface SessionExtras {
  device?: NewDeviceToken
  settle?: AttemptSettlement
}

/** How the remembered session lookups are doing: counters to read, never to steer by. */
export interface SessionLookupDiagnostics {
  /** Answers remembered now. */
  remembered: number
  /** Lookups answered from memory, and lookups that asked the database, since the store was made. */
  hits: number
  misses: number
  /** What tells the memory an answer may have changed: triggers, commit counters or notifications. */
  watching: 'triggers' | 'commits' | 'notifications' | 'nothing'
  /** False while nothing can be remembered (triggers lost, the listening connection down). */
  trusted: boolean
  /** Read transactions shared by several lookups (SQLite). */
  sharedReads?: number
  /** Notifications received (PostgreSQL). */
  notifications?: number
}

/** A snapshot of a store's internal counters, for logs, dashboards and tests. */
export interface StoreDiagnostics {
  sessionLookups?: SessionLookupDiagnostics
}
