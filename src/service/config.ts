import type { DatabaseShortcut } from '../db/index.ts'
import { ConfigurationError } from '../errors.ts'
import { type OptionsResolved, resolveOptions } from '../lib/option-schema.ts'
import { ACCOUNT_OPTIONS } from './account-schema.ts'
import { resolveAccountConfig, type ResolvedAccountConfig } from './account-config.ts'
import { type AuthConfig, SERVICE_OPTIONS } from './config-schema.ts'
import { providersShortfall } from '../oauth/providers.ts'
import { checkUsersTableShape } from './users-table.ts'
import { defaultValidators, type PasswordValidator } from './validators.ts'

export type { AuthConfig, DrizzleDatabase } from './config-schema.ts'
export { DEFAULT_HASH_CONCURRENCY } from './config-schema.ts'
export type LoginRateLimitConfig = Exclude<NonNullable<AuthConfig['loginRateLimit']>, false>
export type RegistrationRateLimitConfig = Exclude<NonNullable<AuthConfig['registrationRateLimit']>, false>

type Resolved = OptionsResolved<typeof SERVICE_OPTIONS>
/** What travels to the dialect factory as one object. */
type StorageKey = 'database' | 'postgresPool' | 'usersTable' | 'migrate' | 'sessionCache'

export interface ResolvedConfig extends Omit<Resolved, keyof typeof ACCOUNT_OPTIONS | StorageKey | 'secret' | 'passwordValidators'> {
  secret: Buffer
  passwordValidators: PasswordValidator[]
  /** The database shortcut, as the dialect factory takes it (unused with `store`). */
  storage: Omit<DatabaseShortcut, 'database'> & { database: DatabaseShortcut['database'] | undefined }
  usersTable: Resolved['usersTable']
  /** Email verification, password reset and email change. */
  account: ResolvedAccountConfig
}

export const MIN_SECRET_BYTES = 32

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
  const options = resolveOptions(SERVICE_OPTIONS, config)
  const { database, postgresPool, migrate, sessionCache, secret, passwordValidators, ...rest } = options
  const usersTable = checkUsersTableShape(options.usersTable)
  const account = resolveAccountConfig(options)
  checkProviders(options, config.oauth !== undefined)
  for (const key of Object.keys(ACCOUNT_OPTIONS) as Array<keyof typeof ACCOUNT_OPTIONS>) delete (rest as Partial<Resolved>)[key]
  return {
    ...rest,
    secret: resolveSecret(secret),
    passwordValidators: passwordValidators ?? defaultValidators(),
    storage: { database, postgresPool, usersTable, migrate, sessionCache: resolveSessionCache(sessionCache, config.sessionCache, options.store !== undefined) },
    usersTable,
    account
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

function resolveSessionCache ({ enabled, maxStalenessMs }: Resolved['sessionCache'], given: AuthConfig['sessionCache'], withStore: boolean): DatabaseShortcut['sessionCache'] {
  if (!enabled && given?.maxStalenessMs !== undefined && given.enabled === undefined) {
    throw new ConfigurationError('fastify-drizzle-auth: `sessionCache.maxStalenessMs` does nothing unless `sessionCache.enabled` is true: set enabled: true (PostgreSQL only) or leave sessionCache out')
  }
  if (!enabled) return undefined
  if (withStore) {
    throw new ConfigurationError('fastify-drizzle-auth: `sessionCache` applies to `database`; with `store`, pass it to pgStore(url, { sessionCache: { maxStalenessMs } })')
  }
  return { maxStalenessMs }
}

function checkProviders ({ providers, oauth }: Resolved, oauthGiven: boolean): void {
  if (providers === undefined || Object.keys(providers).length === 0) {
    if (oauthGiven) throw new ConfigurationError('fastify-drizzle-auth: `oauth` does nothing without `providers`: add a provider (oidc(), google(), github(), microsoft()) or leave `oauth` out')
    return
  }
  const missing = providersShortfall(providers)
  if (missing !== undefined) throw new ConfigurationError(`fastify-drizzle-auth: \`providers\`: ${missing}`)
  if (oauth.callbackBaseUrl === undefined) {
    throw new ConfigurationError("fastify-drizzle-auth: `oauth.callbackBaseUrl` is required with `providers`: the public URL of the bundled routes, e.g. 'https://api.example.com/auth'")
  }
  if (oauth.allowedRedirects.length === 0) {
    throw new ConfigurationError("fastify-drizzle-auth: `oauth.allowedRedirects` is required with `providers`: where browsers may return after signing in, e.g. ['https://app.example']")
  }
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

let handedOver: ResolvedConfig | undefined

/** Makes something (the service) while `config`, resolved already, waits to be taken by `takeHandover`. */
export function withHandover<T> (config: ResolvedConfig, make: () => T): T {
  handedOver = config
  try {
    return make()
  } finally {
    handedOver = undefined
  }
}

/** The config `withHandover` holds out, once. */
export function takeHandover (): ResolvedConfig | undefined {
  const config = handedOver
  handedOver = undefined
  return config
}
