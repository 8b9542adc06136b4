import { randomUUID } from 'node:crypto'
import { boolean, index, integer, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core'

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 })

/**
 * The columns every users table needs, for PostgreSQL. Spread them into an application's own table to add
 * columns: `pgTable('users', { ...authUserColumns(), nickname: text('nickname') })`, then pass it as `usersTable`.
 */
export function authUserColumns () {
  return {
    // Text holding a UUID, as on SQLite: any id a token names can be looked up without a cast error.
    id: text('id').primaryKey().$defaultFn(() => randomUUID()),
    /** Stored normalized (trimmed, NFKC, lower-cased) by the service, so uniqueness holds across spellings. */
    email: text('email').notNull().unique(),
    /** bcrypt hash; null means the account has no usable password. */
    passwordHash: text('password_hash'),
    isActive: boolean('is_active').notNull().default(true),
    isVerified: boolean('is_verified').notNull().default(false),
    lastLogin: timestamptz('last_login'),
    joinedAt: timestamptz('joined_at').notNull().defaultNow(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow()
  }
}

export const users = pgTable('auth_users', authUserColumns())

/** One row per login: the family that an access token and its chain of refresh tokens belong to. */
export const sessions = pgTable('auth_sessions', {
  id: text('id').primaryKey(),
  // No foreign key: the users table is swappable (usersTable), so the reference is kept by the service.
  userId: text('user_id').notNull(),
  createdAt: timestamptz('created_at').notNull(),
  lastUsedAt: timestamptz('last_used_at').notNull(),
  expiresAt: timestamptz('expires_at').notNull(),
  revokedAt: timestamptz('revoked_at'),
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
export const refreshTokens = pgTable('auth_refresh_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  sessionId: text('session_id').notNull().references(() => sessions.id, { onDelete: 'cascade' }),
  generation: integer('generation').notNull(),
  createdAt: timestamptz('created_at').notNull(),
  usedAt: timestamptz('used_at')
}, (t) => [
  index('auth_refresh_tokens_session_idx').on(t.sessionId, t.generation)
])

/** Attempt counters, one row per key (`email:…|ip`, `ip:…`, `account:…`, `register:…`), shared by every instance on the database. */
export const loginAttempts = pgTable('auth_login_attempts', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  resetAt: timestamptz('reset_at').notNull()
}, (t) => [
  index('auth_login_attempts_reset_at_idx').on(t.resetAt)
])

/**
 * Device tokens (OWASP's device cookie for bearer clients), stored only as SHA-256 hashes: a login that
 * presents a live one for the same account is exempt from the per-IP and per-account limits and counted
 * on the token itself (`failures`; at the limit it is revoked).
 */
export const deviceTokens = pgTable('auth_device_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  userId: text('user_id').notNull(),
  createdAt: timestamptz('created_at').notNull(),
  lastUsedAt: timestamptz('last_used_at').notNull(),
  expiresAt: timestamptz('expires_at').notNull(),
  revokedAt: timestamptz('revoked_at'),
  failures: integer('failures').notNull().default(0)
}, (t) => [
  index('auth_device_tokens_user_id_idx').on(t.userId),
  index('auth_device_tokens_expires_at_idx').on(t.expiresAt)
])

export const ACTION_PURPOSES = ['verify_email', 'reset_password', 'change_email'] as const
export type ActionPurpose = typeof ACTION_PURPOSES[number]

/**
 * One-time action tokens (verify email, reset password, change email), stored only as SHA-256 hashes. `usedAt`
 * is set once, by one conditional update, when the token is consumed or made void (a newer token, a password
 * change, an email change, a deactivation).
 */
export const actionTokens = pgTable('auth_action_tokens', {
  id: text('id').primaryKey(),
  tokenHash: text('token_hash').notNull().unique(),
  purpose: text('purpose', { enum: ACTION_PURPOSES }).notNull(),
  userId: text('user_id').notNull(),
  /** The address the token was sent to. */
  email: text('email').notNull(),
  /** The pending new address (change_email only): the users table holds it only once confirmed. */
  newEmail: text('new_email'),
  createdAt: timestamptz('created_at').notNull(),
  expiresAt: timestamptz('expires_at').notNull(),
  usedAt: timestamptz('used_at')
}, (t) => [
  index('auth_action_tokens_user_idx').on(t.userId, t.purpose),
  index('auth_action_tokens_email_idx').on(t.email),
  index('auth_action_tokens_expires_at_idx').on(t.expiresAt)
])

/**
 * The transactional outbox: a message is written with the change it announces and deleted once delivered.
 * `payload` is AES-256-GCM ciphertext (a key derived from `secret`): no usable token is ever stored in clear.
 */
export const outbox = pgTable('auth_outbox', {
  id: text('id').primaryKey(),
  payload: text('payload').notNull(),
  createdAt: timestamptz('created_at').notNull(),
  /** Not sent before this time (retries back off). */
  availableAt: timestamptz('available_at').notNull(),
  /** A sender holds the message until then; a crashed sender's claim simply runs out. */
  claimedUntil: timestamptz('claimed_until'),
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
export const accounts = pgTable('auth_accounts', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull(),
  provider: text('provider').notNull(),
  subject: text('subject').notNull(),
  email: text('email'),
  emailVerified: boolean('email_verified').notNull().default(false),
  tokens: text('tokens'),
  createdAt: timestamptz('created_at').notNull(),
  lastLoginAt: timestamptz('last_login_at')
}, (t) => [
  uniqueIndex('auth_accounts_provider_subject_idx').on(t.provider, t.subject),
  uniqueIndex('auth_accounts_user_provider_idx').on(t.userId, t.provider)
])

/**
 * Provider sign-ins in flight, single use: what the callback needs (the state is stored only as its SHA-256
 * hash), then, for a bearer client, the one-time completion code (also a hash) it exchanges for tokens.
 */
export const oauthFlows = pgTable('auth_oauth_flows', {
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
  createdAt: timestamptz('created_at').notNull(),
  expiresAt: timestamptz('expires_at').notNull(),
  usedAt: timestamptz('used_at'),
  codeHash: text('code_hash').unique(),
  codeUserId: text('code_user_id'),
  codeAccountId: text('code_account_id'),
  /** A link finished by a bearer client: what the provider said (JSON), linked when the code is exchanged. */
  codeProfile: text('code_profile'),
  codeExpiresAt: timestamptz('code_expires_at'),
  codeUsedAt: timestamptz('code_used_at')
}, (t) => [
  index('auth_oauth_flows_expires_at_idx').on(t.expiresAt)
])

export type ActionTokenRow = typeof actionTokens.$inferSelect
export type OutboxRow = typeof outbox.$inferSelect
export type UserRow = typeof users.$inferSelect
export type NewUserRow = typeof users.$inferInsert
export type SessionRow = typeof sessions.$inferSelect
export type RefreshTokenRow = typeof refreshTokens.$inferSelect
