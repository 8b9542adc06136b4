import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

const now = sql`(cast(unixepoch('subsecond') * 1000 as integer))`

/**
 * The columns every users table needs. Spread them into an application's own table to add columns:
 * `sqliteTable('users', { ...authUserColumns(), nickname: text('nickname') })`, then pass it as `usersTable`.
 */
export function authUserColumns () {
  return {
    id: text('id').primaryKey().$defaultFn(() => randomUUID()),
    /** Stored normalized (trimmed, NFKC, lower-cased) by the service, so uniqueness holds across spellings. */
    email: text('email').notNull().unique(),
    /** bcrypt hash; null means the account has no usable password. */
    passwordHash: text('password_hash'),
    isActive: integer('is_active', { mode: 'boolean' }).notNull().default(true),
    isVerified: integer('is_verified', { mode: 'boolean' }).notNull().default(false),
    lastLogin: integer('last_login', { mode: 'timestamp_ms' }),
    joinedAt: integer('joined_at', { mode: 'timestamp_ms' }).notNull().default(now),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull().default(now),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull().default(now)
  }
}

export const users = sqliteTable('auth_users', authUserColumns())

/** One row per login: the family that an access token and its chain of refresh tokens belong to. */
export const sessions = sqliteTable('auth_sessions', {
  id: text('id').primaryKey(),
  // No foreign key: the users table is swappable (usersTable), so the reference is kept by the service.
  userId: text('user_id').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  lastUsedAt: integer('last_used_at', { mode: 'timestamp_ms' }).notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
  revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
  revokeReason: text('revoke_reason'),
  userAgent: text('user_agent'),
  ip: text('ip'),
  /** How the session was made: 'password' (more ways come with provider sign-in and passkeys). */
  method: text('method').notNull().default('password')
}, (t) => [
  index('auth_sessions_user_id_idx').on(t.userId),
  index('auth_sessions_expires_at_idx').on(t.expiresAt)
])

/** Refresh tokens, stored only as SHA-256 hashes; `usedAt` set once, by one conditional update. */
export const refreshTokens = sqliteTable('auth_refresh_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  sessionId: text('session_id').notNull().references(() => sessions.id, { onDelete: 'cascade' }),
  generation: integer('generation').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  usedAt: integer('used_at', { mode: 'timestamp_ms' })
}, (t) => [
  index('auth_refresh_tokens_session_idx').on(t.sessionId, t.generation)
])

/** Attempt counters, one row per key (`email:…|ip`, `ip:…`, `account:…`, `register:…`), shared by every instance on the database. */
export const loginAttempts = sqliteTable('auth_login_attempts', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  resetAt: integer('reset_at', { mode: 'timestamp_ms' }).notNull()
}, (t) => [
  index('auth_login_attempts_reset_at_idx').on(t.resetAt)
])

/**
 * Device tokens (OWASP's device cookie for bearer clients), stored only as SHA-256 hashes: a login that
 * presents a live one for the same account is exempt from the per-IP and per-account limits and counted
 * on the token itself (`failures`; at the limit it is revoked).
 */
export const deviceTokens = sqliteTable('auth_device_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  userId: text('user_id').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  lastUsedAt: integer('last_used_at', { mode: 'timestamp_ms' }).notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
  revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
  failures: integer('failures').notNull().default(0)
}, (t) => [
  index('auth_device_tokens_user_id_idx').on(t.userId),
  index('auth_device_tokens_expires_at_idx').on(t.expiresAt)
])

/**
 * One row (id 1) whose `version` moves on every update or delete of a session or user row, by triggers the
 * store puts in place when it opens (also on tables made by drizzle-kit push): remembered session lookups are
 * forgotten when it moves, and only then, so an application writing its own tables leaves them alone.
 */
export const authChanges = sqliteTable('auth_changes', {
  id: integer('id').primaryKey(),
  version: integer('version').notNull()
})

export const ACTION_PURPOSES = ['verify_email', 'reset_password', 'change_email'] as const
export type ActionPurpose = typeof ACTION_PURPOSES[number]

/**
 * One-time action tokens (verify email, reset password, change email), stored only as SHA-256 hashes. `usedAt`
 * is set once, by one conditional update, when the token is consumed or made void (a newer token, a password
 * change, an email change, a deactivation).
 */
export const actionTokens = sqliteTable('auth_action_tokens', {
  id: text('id').primaryKey(),
  tokenHash: text('token_hash').notNull().unique(),
  purpose: text('purpose', { enum: ACTION_PURPOSES }).notNull(),
  userId: text('user_id').notNull(),
  /** The address the token was sent to. */
  email: text('email').notNull(),
  /** The pending new address (change_email only): the users table holds it only once confirmed. */
  newEmail: text('new_email'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
  usedAt: integer('used_at', { mode: 'timestamp_ms' })
}, (t) => [
  index('auth_action_tokens_user_idx').on(t.userId, t.purpose),
  index('auth_action_tokens_email_idx').on(t.email),
  index('auth_action_tokens_expires_at_idx').on(t.expiresAt)
])

/**
 * The transactional outbox: a message is written with the change it announces and deleted once delivered.
 * `payload` is AES-256-GCM ciphertext (a key derived from `secret`): no usable token is ever stored in clear.
 */
export const outbox = sqliteTable('auth_outbox', {
  id: text('id').primaryKey(),
  payload: text('payload').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  /** Not sent before this time (retries back off). */
  availableAt: integer('available_at', { mode: 'timestamp_ms' }).notNull(),
  /** A sender holds the message until then; a crashed sender's claim simply runs out. */
  claimedUntil: integer('claimed_until', { mode: 'timestamp_ms' }),
  attempts: integer('attempts').notNull().default(0),
  lastError: text('last_error')
}, (t) => [
  index('auth_outbox_available_at_idx').on(t.availableAt)
])

/**
 * Provider identities (OpenID Connect or OAuth 2.0): one row per (provider, subject), each the way in to one
 * user. `email` and `emailVerified` are what the provider last said. `tokens` holds the provider's own tokens,
 * sealed (AES-256-GCM), only when the application asks to keep them.
 */
export const accounts = sqliteTable('auth_accounts', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull(),
  provider: text('provider').notNull(),
  subject: text('subject').notNull(),
  email: text('email'),
  emailVerified: integer('email_verified', { mode: 'boolean' }).notNull().default(false),
  tokens: text('tokens'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  lastLoginAt: integer('last_login_at', { mode: 'timestamp_ms' })
}, (t) => [
  uniqueIndex('auth_accounts_provider_subject_idx').on(t.provider, t.subject),
  uniqueIndex('auth_accounts_user_provider_idx').on(t.userId, t.provider)
])

/**
 * Provider sign-ins in flight, single use: what the callback needs (the state is stored only as its SHA-256
 * hash), then, for a bearer client, the one-time completion code (also a hash) it exchanges for tokens.
 */
export const oauthFlows = sqliteTable('auth_oauth_flows', {
  id: text('id').primaryKey(),
  stateHash: text('state_hash').notNull().unique(),
  provider: text('provider').notNull(),
  codeVerifier: text('code_verifier').notNull(),
  nonce: text('nonce').notNull(),
  redirectTo: text('redirect_to').notNull(),
  /** The signed-in user linking this provider; null for a sign-in. */
  linkUserId: text('link_user_id'),
  /** The bearer client's own PKCE challenge (S256), which its completion code is bound to; null for cookies. */
  clientChallenge: text('client_challenge'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
  usedAt: integer('used_at', { mode: 'timestamp_ms' }),
  codeHash: text('code_hash').unique(),
  codeUserId: text('code_user_id'),
  codeAccountId: text('code_account_id'),
  /** A link finished by a bearer client: what the provider said (JSON), linked when the code is exchanged. */
  codeProfile: text('code_profile'),
  codeExpiresAt: integer('code_expires_at', { mode: 'timestamp_ms' }),
  codeUsedAt: integer('code_used_at', { mode: 'timestamp_ms' })
}, (t) => [
  index('auth_oauth_flows_expires_at_idx').on(t.expiresAt)
])

export type ActionTokenRow = typeof actionTokens.$inferSelect
export type OutboxRow = typeof outbox.$inferSelect
export type UserRow = typeof users.$inferSelect
export type NewUserRow = typeof users.$inferInsert
export type SessionRow = typeof sessions.$inferSelect
export type RefreshTokenRow = typeof refreshTokens.$inferSelect
