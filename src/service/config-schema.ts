/** Every option of `configure()`, `new AuthService()` and the plugin's service part, declared once. */
import { availableParallelism } from 'node:os'
import type { Table } from 'drizzle-orm'
import type { AnyAuthStore } from '../db/store.ts'
import { custom, group, option, type OptionsInput } from '../lib/option-schema.ts'
import { OAUTH_OPTIONS } from '../oauth/oauth-schema.ts'
import { ACCOUNT_OPTIONS } from './account-schema.ts'
import type { AuthLogger } from './events.ts'
import type { PasswordValidator } from './validators.ts'

/**
 * A Drizzle database of either dialect (better-sqlite3 or node-postgres), typed by shape so that neither
 * driver's types are needed to name it.
 */
export interface DrizzleDatabase {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  readonly select: Function
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  readonly transaction: Function
}

/**
 * One bcrypt thread per CPU, at most 4; it also stays under the default per-email limit, so logins in flight
 * never use up an account's allowance.
 */
export const DEFAULT_HASH_CONCURRENCY = Math.min(availableParallelism(), 4)

const isObject = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value)
const isDrizzleDatabase = (value: unknown): value is DrizzleDatabase => isObject(value) && '$client' in (value as object) && 'select' in (value as object)
const DAY = 24 * 3600

export const SERVICE_OPTIONS = {
  database: custom<DrizzleDatabase | string>((value) => typeof value === 'string' || isDrizzleDatabase(value), {
    doc: "an SQLite file path (directory created) or `':memory:'`, a `postgres://` URL (a pool is opened), or a Drizzle better-sqlite3 or node-postgres database (left open: it is the application's)",
    defaultText: '(required unless `store`)',
    must: "a file path, ':memory:', a postgres:// URL, or a Drizzle better-sqlite3 or node-postgres database"
  }),
  postgresPool: custom<Readonly<Record<string, unknown>>>(isObject, {
    doc: 'node-postgres pool settings for a `postgres://` database (`max`, `idleTimeoutMillis`, `ssl`, ...)',
    must: 'an object of node-postgres pool settings, e.g. { max: 20 }',
    default: {},
    defaultText: '`{ connectionTimeoutMillis: 5000 }`'
  }),
  store: custom<AnyAuthStore>(() => true, {
    doc: 'a ready `AuthStore` instead of `database` (see [Stores](stores.md))',
    must: 'an AuthStore'
  }),
  secret: custom<string | Buffer>(() => true, {
    doc: 'HMAC key for access tokens, a string (its UTF-8 bytes) or a Buffer, at least 32 bytes', must: 'a string or a Buffer', defaultText: '(required)'
  }),
  algorithm: option.oneOf(['HS256', 'HS384', 'HS512'], 'HS256', 'the access tokens\' HMAC algorithm; the verifier accepts only this one'),
  issuer: option.string('when set, signed into every token as `iss` and required on verification'),
  audience: option.string('when set, signed into every token as `aud` and required on verification'),
  accessTokenTtl: option.positiveInteger(900, 'access-token lifetime, seconds'),
  refreshTokenTtl: option.positiveInteger(30 * DAY, 'session (refresh-token) lifetime, seconds, absolute from login'),
  sessionIdleTimeoutSeconds: custom<number>((value) => Number.isSafeInteger(value) && (value as number) > 0, {
    doc: 'when set, a session not refreshed (or signed in to) for this many seconds is refused at its next refresh (`token_expired`); unset: sessions end only at `refreshTokenTtl`',
    must: 'a positive whole number of seconds when set'
  }),
  clockSkewSeconds: option.nonNegativeInteger(30, 'tolerated clock difference for `exp`, `nbf` and `iat`, seconds'),
  clock: option.fn<() => number>('the service\'s time in milliseconds since the epoch: every lifetime, expiry and window it decides (tokens, sessions, ' +
    'links, rate limits, outbox retries, purges) reads it; for tests and simulations (the database\'s own column defaults keep the database\'s clock)',
  Date.now, '`Date.now`'),
  bcryptRounds: option.integerBetween(4, 31, 12, 'bcrypt cost', 'between 4 and 31 (12 is a sound default)'),
  hashConcurrency: option.positiveInteger(DEFAULT_HASH_CONCURRENCY, 'bcrypt operations run at once, each on a thread of its own; further logins queue ' +
    '(and are counted against the login limit only when their turn comes)', 'the number of CPUs, at most 4'),
  hashQueueLimit: option.positiveInteger(64, 'jobs allowed to wait for a bcrypt thread: a registration or password change finding that many ' +
    'waiting, or a login finding that many logins waiting, gets 503 `busy` + `Retry-After: 1` at once; waiting logins are served first'),
  hashThreads: option.oneOf(['normal', 'idle'], 'normal', "the hashing threads' CPU priority: `'normal'` (the process's own), or `'idle'` (Linux: nice 19 and SCHED_IDLE; " +
    'token checks never wait for hashing, but a busy core starves logins; see [Performance](performance.md))'),
  passwordValidators: custom<PasswordValidator[]>((value) => Array.isArray(value) && value.every((v) => typeof v === 'function'), {
    doc: 'replaces the list (length 8, not numeric, not like the email, not common); the 72-byte limit always holds',
    must: 'an array of functions (password, context) => message | null',
    defaultText: 'the four defaults'
  }),
  refreshReuseGraceSeconds: option.nonNegativeInteger(10, 'a replay of the just-rotated refresh token within this window is 409 `refresh_in_progress` instead of reuse; `0` turns it off'),
  loginRateLimit: group('failed-password limits kept in the database (see [Limits](security.md#limits))', {
    maxAttemptsPerEmail: option.positiveInteger(5, 'failed attempts per normalized email and client IP within the window'),
    maxAttemptsPerIp: option.positiveInteger(50, 'failed attempts per client IP (IPv6: per /64) within the window'),
    maxAttemptsPerAccount: option.positiveInteger(20, 'failed attempts per account from all addresses together, logins and current-password checks'),
    maxAttemptsPerDevice: option.positiveInteger(10, 'failed logins presenting one device token before that token is revoked'),
    windowSeconds: option.positiveInteger(900, 'window length, seconds')
  }, { allowFalse: true }),
  registrationRateLimit: group('registrations per client address kept in the database', {
    maxPerIp: option.positiveInteger(10, 'registrations accepted per client IP (IPv6: per /64) within the window'),
    windowSeconds: option.positiveInteger(3600, 'window length, seconds')
  }, { allowFalse: true }),
  deviceTokenTtl: option.positiveInteger(365 * DAY, 'lifetime of the device token a login returns, seconds'),
  purgeIntervalSeconds: option.nonNegativeInteger(3600, 'how often the plugin runs `purgeExpired()` (one instance at a time on PostgreSQL), seconds; `0` turns it off'),
  usersTable: custom<Table>(isObject, {
    doc: "an application's own users table built with `authUserColumns()` of the same dialect",
    must: 'a Drizzle table built with authUserColumns()',
    defaultText: "the plugin's `auth_users`"
  }),
  migrate: option.boolean(true, "apply the plugin's migrations when the database is opened"),
  sessionCache: group('PostgreSQL: remember session lookups, forgotten on LISTEN/NOTIFY (see [PostgreSQL](postgresql.md)); ' +
    'SQLite always remembers them. With `store`, give it to `pgStore(url, { sessionCache })` instead (refused here)', {
    enabled: option.boolean(false, 'turns the memory on'),
    maxStalenessMs: option.positiveInteger(1000, 'the longest a remembered answer is trusted without a word from the database')
  }),
  logger: custom<AuthLogger>((value) => isObject(value) && typeof (value as AuthLogger).warn === 'function' && typeof (value as AuthLogger).error === 'function', {
    doc: 'where the service logs: `{ warn, error }`',
    must: 'an object with warn and error methods (a pino or Fastify logger)',
    defaultText: "Fastify's logger (plugin), console (service)"
  }),
  ...ACCOUNT_OPTIONS,
  ...OAUTH_OPTIONS
} as const

/** The keys accepted by `configure()`, `new AuthService()` and the plugin. */
export type AuthConfig = OptionsInput<typeof SERVICE_OPTIONS>
