import { availableParallelism } from 'node:os'
import type { Table } from 'drizzle-orm'
import type { AnyAuthStore } from '../db/store.ts'
import { ConfigurationError } from '../errors.ts'
import { type AccountConfig, resolveAccountConfig, type ResolvedAccountConfig } from './account-config.ts'
import type { AuthLogger } from './events.ts'
import { nonNegativeInteger, optionalFunction, optionalString, positiveInteger } from '../lib/option-checks.ts'
import { type HashThreads, resolveHashThreads } from './bcrypt-workers.ts'
import { CONFIG_KEY_TREE, checkOptionKeys } from './config-keys.ts'
import { checkUsersTableShape } from './users-table.ts'
import type { JwtAlgorithm } from './tokens.ts'
import { defaultValidators, type PasswordValidator } from './validators.ts'

export interface LoginRateLimitConfig {
  /** Failed attempts allowed per normalized email and client IP within the window (default 5). */
  maxAttemptsPerEmail?: number
  /** Failed attempts allowed per client IP (IPv6: per /64) within the window (default 50). */
  maxAttemptsPerIp?: number
  /** Failed attempts allowed per account from all addresses together, logins and current-password checks (default 20). */
  maxAttemptsPerAccount?: number
  /** Failed logins presenting one device token before that token is revoked (default 10). */
  maxAttemptsPerDevice?: number
  /** Window length in seconds (default 900). */
  windowSeconds?: number
}

export interface RegistrationRateLimitConfig {
  /** Registrations accepted per client IP (IPv6: per /64) within the window (default 10). */
  maxPerIp?: number
  /** Window length in seconds (default 3600). */
  windowSeconds?: number
}

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

/** The keys accepted by `configure()`, `new AuthService()` and the plugin. */
export interface AuthConfig extends AccountConfig {
  /**
   * An SQLite file path or ':memory:', a `postgres://` URL (a pool is opened), or a Drizzle better-sqlite3 or
   * node-postgres database (left open: it is the application's).
   */
  database?: DrizzleDatabase | string
  /** node-postgres pool settings for a `postgres://` database (max, idleTimeoutMillis, ssl, ...). */
  postgresPool?: Readonly<Record<string, unknown>>
  /**
   * A ready store, replacing `database`: `sqliteStore(...)` from `fastify-drizzle-auth/sqlite`, `pgStore(...)`
   * from `fastify-drizzle-auth/pg`, or any implementation of `AuthStore`.
   */
  store?: AnyAuthStore
  /** HMAC key for access tokens, at least 32 bytes (a string is used as its UTF-8 bytes). */
  secret?: string | Buffer
  algorithm?: JwtAlgorithm
  issuer?: string
  audience?: string
  /** Access-token lifetime in seconds (default 900). */
  accessTokenTtl?: number
  /** Session (refresh-token) lifetime in seconds, absolute from login (default 30 days). */
  refreshTokenTtl?: number
  /** Tolerated clock difference for `exp`/`nbf`/`iat`, in seconds (default 30). */
  clockSkewSeconds?: number
  /**
   * The time in milliseconds since the epoch (default `Date.now`). Every lifetime, expiry and window the service
   * decides (tokens, sessions, links, rate limits, retries, purges) reads it: for tests and simulations.
   */
  clock?: () => number
  /** bcrypt cost (default 12, 4 to 31). */
  bcryptRounds?: number
  /** bcrypt operations run at once, the others queue (default: the number of CPUs, at most 4). */
  hashConcurrency?: number
  /** Password hashes allowed to wait for a thread; beyond it a request gets 503 `busy` at once (default 64). */
  hashQueueLimit?: number
  /** Hashing threads' CPU priority (default 'normal'); 'idle': never delays token checks, but a busy core starves logins. */
  hashThreads?: HashThreads
  /** Replaces the default validators (length 8, not numeric, not like the email, not common). */
  passwordValidators?: PasswordValidator[]
  /** A replay of the just-rotated refresh token within this many seconds gets 409, not a revoked session (default 10). */
  refreshReuseGraceSeconds?: number
  /** Failed-login limits, or false to turn them off. */
  loginRateLimit?: LoginRateLimitConfig | false
  /** Registrations per client IP, or false to turn the limit off. */
  registrationRateLimit?: RegistrationRateLimitConfig | false
  /** Lifetime of the device token a login returns, in seconds (default 365 days). */
  deviceTokenTtl?: number
  /** How often the plugin deletes ended sessions, tokens and counters, in seconds (default 3600; 0 turns it off). */
  purgeIntervalSeconds?: number
  /** An application's own users table built with `authUserColumns()` of the same dialect. */
  usersTable?: Table
  /** Run the plugin's migrations when the database is opened (default true). */
  migrate?: boolean
  /** PostgreSQL: remember session lookups, forgotten on LISTEN/NOTIFY (`maxStalenessMs` default 1000). */
  sessionCache?: { enabled?: boolean, maxStalenessMs?: number }
  /** Where the service logs (the plugin passes Fastify's logger). */
  logger?: AuthLogger
}

export interface ResolvedConfig {
  database: DrizzleDatabase | string | undefined
  postgresPool: Readonly<Record<string, unknown>>
  store: AnyAuthStore | undefined
  secret: Buffer
  algorithm: JwtAlgorithm
  issuer: string | undefined
  audience: string | undefined
  accessTokenTtl: number
  refreshTokenTtl: number
  clockSkewSeconds: number
  clock: () => number
  bcryptRounds: number
  hashConcurrency: number
  hashQueueLimit: number
  hashThreads: HashThreads
  passwordValidators: PasswordValidator[]
  refreshReuseGraceSeconds: number
  loginRateLimit: Required<LoginRateLimitConfig> | false
  registrationRateLimit: Required<RegistrationRateLimitConfig> | false
  deviceTokenTtl: number
  purgeIntervalSeconds: number
  usersTable: Table | undefined
  migrate: boolean
  sessionCache: { maxStalenessMs: number } | undefined
  logger: AuthLogger | undefined
  /** Email verification, password reset and email change. */
  account: ResolvedAccountConfig
}

export const MIN_SECRET_BYTES = 32
/**
 * One bcrypt thread per CPU, at most 4; it also stays under the default per-email limit, so logins in flight
 * never use up an account's allowance.
 */
export const DEFAULT_HASH_CONCURRENCY = Math.min(availableParallelism(), 4)
const ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'HS384', 'HS512']

/** Checks every key once, up front; each message says what to set. */
export function resolveConfig (config: AuthConfig): ResolvedConfig {
  if (config === null || typeof config !== 'object') {
    throw new ConfigurationError('fastify-drizzle-auth: configuration must be an object with at least `database` and `secret`')
  }
  if (config.store === undefined && config.database === undefined) {
    throw new ConfigurationError(
      "fastify-drizzle-auth: `database` is missing: set it to a file path, ':memory:', a postgres:// URL or a Drizzle database"
    )
  }
  if (config.store !== undefined) {
    const missing = storeShortfall(config.store)
    if (missing !== undefined) {
      throw new ConfigurationError(
        `fastify-drizzle-auth: \`store\` must be an AuthStore (${missing}): sqliteStore(...) from 'fastify-drizzle-auth/sqlite', pgStore(...) from 'fastify-drizzle-auth/pg', or your own implementation`
      )
    }
  }
  const scheme = typeof config.database === 'string' ? /^([a-z][a-z0-9+.-]*):\/\//i.exec(config.database)?.[1] : undefined
  if (scheme !== undefined && !/^postgres(ql)?$/i.test(scheme)) {
    throw new ConfigurationError(
      `fastify-drizzle-auth: \`database\` is a ${scheme}:// URL, which is not supported: use a postgres:// (or postgresql://) URL, or an SQLite file path`
    )
  }
  if (config.database !== undefined && typeof config.database !== 'string' && !isDrizzleDatabase(config.database)) {
    throw new ConfigurationError(
      "fastify-drizzle-auth: `database` must be a file path, ':memory:', a postgres:// URL, or a Drizzle better-sqlite3 or node-postgres database"
    )
  }
  if (config.postgresPool !== undefined && (config.postgresPool === null || typeof config.postgresPool !== 'object')) {
    throw new ConfigurationError('fastify-drizzle-auth: `postgresPool` must be an object of node-postgres pool settings, e.g. { max: 20 }')
  }
  // A configuration resolved before (the plugin hands its own to the service) keeps its resolved settings.
  const again = (config as Partial<ResolvedConfig>).account !== undefined
  if (!again) checkOptionKeys(config, CONFIG_KEY_TREE)
  const algorithm = config.algorithm ?? 'HS256'
  if (!ALGORITHMS.includes(algorithm)) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`algorithm\` must be one of ${ALGORITHMS.join(', ')}`)
  }
  const loginRateLimit = config.loginRateLimit === false
    ? false as const
    : {
        maxAttemptsPerEmail: positiveInteger(config.loginRateLimit?.maxAttemptsPerEmail, 5, 'loginRateLimit.maxAttemptsPerEmail'),
        maxAttemptsPerIp: positiveInteger(config.loginRateLimit?.maxAttemptsPerIp, 50, 'loginRateLimit.maxAttemptsPerIp'),
        maxAttemptsPerAccount: positiveInteger(config.loginRateLimit?.maxAttemptsPerAccount, 20, 'loginRateLimit.maxAttemptsPerAccount'),
        maxAttemptsPerDevice: positiveInteger(config.loginRateLimit?.maxAttemptsPerDevice, 10, 'loginRateLimit.maxAttemptsPerDevice'),
        windowSeconds: positiveInteger(config.loginRateLimit?.windowSeconds, 900, 'loginRateLimit.windowSeconds')
      }
  const registrationRateLimit = config.registrationRateLimit === false
    ? false as const
    : {
        maxPerIp: positiveInteger(config.registrationRateLimit?.maxPerIp, 10, 'registrationRateLimit.maxPerIp'),
        windowSeconds: positiveInteger(config.registrationRateLimit?.windowSeconds, 3600, 'registrationRateLimit.windowSeconds')
      }
  const bcryptRounds = positiveInteger(config.bcryptRounds, 12, 'bcryptRounds')
  if (bcryptRounds < 4 || bcryptRounds > 31) {
    throw new ConfigurationError('fastify-drizzle-auth: `bcryptRounds` must be between 4 and 31 (12 is a sound default)')
  }
  if (config.passwordValidators !== undefined &&
    (!Array.isArray(config.passwordValidators) || !config.passwordValidators.every((v) => typeof v === 'function'))) {
    throw new ConfigurationError('fastify-drizzle-auth: `passwordValidators` must be an array of functions (password, context) => message | null')
  }
  return {
    database: config.database,
    postgresPool: config.postgresPool ?? {},
    store: config.store,
    secret: resolveSecret(config.secret),
    algorithm,
    issuer: optionalString(config.issuer, 'issuer'),
    audience: optionalString(config.audience, 'audience'),
    accessTokenTtl: positiveInteger(config.accessTokenTtl, 900, 'accessTokenTtl'),
    refreshTokenTtl: positiveInteger(config.refreshTokenTtl, 30 * 24 * 3600, 'refreshTokenTtl'),
    clockSkewSeconds: nonNegativeInteger(config.clockSkewSeconds, 30, 'clockSkewSeconds'),
    clock: optionalFunction(config.clock, Date.now, 'clock'),
    bcryptRounds,
    hashConcurrency: positiveInteger(config.hashConcurrency, DEFAULT_HASH_CONCURRENCY, 'hashConcurrency'),
    hashQueueLimit: positiveInteger(config.hashQueueLimit, 64, 'hashQueueLimit'),
    hashThreads: resolveHashThreads(config.hashThreads),
    passwordValidators: config.passwordValidators ?? defaultValidators(),
    refreshReuseGraceSeconds: nonNegativeInteger(config.refreshReuseGraceSeconds, 10, 'refreshReuseGraceSeconds'),
    loginRateLimit,
    registrationRateLimit,
    deviceTokenTtl: positiveInteger(config.deviceTokenTtl, 365 * 24 * 3600, 'deviceTokenTtl'),
    purgeIntervalSeconds: nonNegativeInteger(config.purgeIntervalSeconds, 3600, 'purgeIntervalSeconds'),
    usersTable: again ? config.usersTable : checkUsersTableShape(config.usersTable),
    migrate: config.migrate ?? true,
    sessionCache: again ? (config as ResolvedConfig).sessionCache : resolveSessionCache(config.sessionCache, config.store !== undefined),
    logger: config.logger,
    account: again ? (config as ResolvedConfig).account : resolveAccountConfig(config)
  }
}

function resolveSecret (secret: unknown): Buffer {
  const hint = "set `secret` to at least 32 random bytes, e.g. require('node:crypto').randomBytes(32).toString('base64')"
  if (secret === undefined || secret === null || secret === '') {
    throw new ConfigurationError(`fastify-drizzle-auth: \`secret\` is missing: ${hint}`)
  }
  if (typeof secret !== 'string' && !Buffer.isBuffer(secret)) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`secret\` must be a string or a Buffer: ${hint}`)
  }
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret)
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new ConfigurationError(
      `fastify-drizzle-auth: \`secret\` is ${bytes.length} bytes, shorter than ${MIN_SECRET_BYTES}: ${hint}`
    )
  }
  return bytes
}

function resolveSessionCache (value: AuthConfig['sessionCache'], withStore: boolean): ResolvedConfig['sessionCache'] {
  if (value === undefined || (value as { enabled?: unknown } | null)?.enabled === false) return undefined
  if (typeof value !== 'object' || value === null || value.enabled !== true) {
    throw new ConfigurationError('fastify-drizzle-auth: `sessionCache` must be { enabled: true, maxStalenessMs? } (PostgreSQL only) or left out')
  }
  if (withStore) {
    throw new ConfigurationError('fastify-drizzle-auth: `sessionCache` applies to `database`; with `store`, pass it to pgStore(url, { sessionCache: { maxStalenessMs } })')
  }
  return { maxStalenessMs: positiveInteger(value.maxStalenessMs, 1000, 'sessionCache.maxStalenessMs') }
}

const STORE_FACETS = ['users', 'sessions', 'limits', 'devices', 'actions', 'maintenance'] as const

/** What keeps `value` from being an AuthStore, said for the error; undefined when nothing does. */
function storeShortfall (value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not an object'
  const store = value as Record<string, unknown>
  if (store.mode !== 'sync' && store.mode !== 'async') return "its `mode` is neither 'sync' nor 'async'"
  const missing = STORE_FACETS.filter((facet) => typeof store[facet] !== 'object' || store[facet] === null)
  if (missing.length > 0) return `no ${missing.map((facet) => `\`${facet}\``).join(', ')} facet`
  return typeof (store.sessions as { find?: unknown }).find === 'function' ? undefined : 'no `sessions.find`'
}

function isDrizzleDatabase (value: unknown): value is DrizzleDatabase {
  return value !== null && typeof value === 'object' && '$client' in value && 'select' in value
}

let globalConfig: ResolvedConfig | undefined

/** Sets the process-wide configuration used by `new AuthService()` and the plugin registered without options. */
export function configure (config: AuthConfig): ResolvedConfig {
  globalConfig = resolveConfig(config)
  return globalConfig
}

/** The configuration set by `configure()`; raises ConfigurationError when there is none. */
export function getConfig (): ResolvedConfig {
  if (globalConfig === undefined) {
    throw new ConfigurationError(
      'fastify-drizzle-auth: not configured: call configure({ database, secret }) first, or pass the options directly'
    )
  }
  return globalConfig
}

/** Forgets the global configuration (tests). */
export function resetConfig (): void {
  globalConfig = undefined
}
