import { type AuthConfig, getConfig, type ResolvedConfig, resolveConfig } from './service/config.ts'
import { ConfigurationError } from './errors.ts'
import { PLUGIN_KEY_TREE } from './option-keys.ts'
import { CONFIG_KEY_TREE, checkOptionKeys } from './service/config-keys.ts'
import { type ResolvedRoutes, resolveRoutes, type RoutesOptions } from './routes/options.ts'
import { type ResolvedTransport, resolveTransport, type TransportOptions } from './transport/options.ts'
import { AuthService } from './service/auth-service.ts'
import type { AuthUser } from './service/user.ts'

/** The plugin's options: every `configure()` key, plus the Fastify-side ones. */
export interface FastifyDrizzleAuthOptions extends AuthConfig, TransportOptions {
  /** A ready service; the plugin then needs no other option. */
  authService?: AuthService
  /** Scopes granted to authenticated users, or a function of the user (default ['authenticated']). */
  scopes?: readonly string[] | ((user: AuthUser) => readonly string[])
  /** Mount the bundled routes: `true`, or `{ prefix, bodyLimit, tags, registerFields, meFields }` (default false). */
  routes?: boolean | RoutesOptions
  /** Fastify's own registration prefix: applied to the bundled routes (before `routes.prefix`). */
  prefix?: string
}

export interface ResolvedPluginOptions {
  /** Known at registration (the key, the users table); the service itself may come later. */
  config: ResolvedConfig
  /** Returns the service (created on first use in the global-configuration pattern). */
  service: () => AuthService
  /** The service created at registration (explicit options), if any: the plugin awaits its readiness. */
  eager: AuthService | undefined
  /** True when the plugin created the service and so must close it. */
  ownsService: () => boolean
  scopesFor: (user: AuthUser) => readonly string[]
  routes: ResolvedRoutes | false
  /** How tokens travel (bearer, cookies), with the cookie and CSRF settings. */
  transport: ResolvedTransport
  /** The registration's own prefix ('' when none). */
  prefix: string
}

const CONFIG_KEYS = Object.keys(CONFIG_KEY_TREE) as Array<keyof AuthConfig>
const DEFAULT_SCOPES = Object.freeze(['authenticated'])

/** Validates the options once, at registration; every failure is a ConfigurationError that says what to set. */
export function resolvePluginOptions (options: FastifyDrizzleAuthOptions, logger: AuthConfig['logger']): ResolvedPluginOptions {
  checkOptionKeys(options, PLUGIN_KEY_TREE)
  const given = options.authService
  if (given !== undefined && !(given instanceof AuthService)) {
    throw new ConfigurationError('fastify-drizzle-auth: `authService` must be an AuthService instance')
  }
  const hasConfigKeys = CONFIG_KEYS.some((key) => options[key] !== undefined)
  let config: ResolvedConfig
  if (given !== undefined) {
    config = given.config
  } else if (hasConfigKeys) {
    config = resolveConfig({ logger, ...pickConfig(options) })
  } else {
    const global = getConfigOrExplain()
    config = { ...global, logger: global.logger ?? logger }
  }

  // Explicit options open the database now, so a bad one fails ready(); the global pattern waits for
  // the first request, as the seed's TokenAuthBackend does.
  let created = given === undefined && hasConfigKeys ? new AuthService(config) : undefined
  const service = given !== undefined
    ? () => given
    : () => { created ??= new AuthService(config); return created }

  return {
    config,
    service,
    eager: created,
    ownsService: () => created !== undefined,
    scopesFor: resolveScopes(options.scopes),
    routes: resolveRoutes(options.routes, config.usersTable),
    transport: resolveTransport(options),
    prefix: resolvePrefix(options.prefix)
  }
}

function pickConfig (options: FastifyDrizzleAuthOptions): AuthConfig {
  const config: Record<string, unknown> = {}
  for (const key of CONFIG_KEYS) if (options[key] !== undefined) config[key] = options[key]
  return config as AuthConfig
}

function getConfigOrExplain (): ResolvedConfig {
  try {
    return getConfig()
  } catch {
    throw new ConfigurationError(
      'fastify-drizzle-auth: no configuration: register the plugin with { database, secret }, ' +
      'call configure({ database, secret }) before app.ready(), or pass { authService }'
    )
  }
}

function resolveScopes (scopes: FastifyDrizzleAuthOptions['scopes']): (user: AuthUser) => readonly string[] {
  if (scopes === undefined) return () => DEFAULT_SCOPES
  if (typeof scopes === 'function') return scopes
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string' && scope !== '')) {
    throw new ConfigurationError('fastify-drizzle-auth: `scopes` must be an array of non-empty strings or a function (user) => string[]')
  }
  const frozen = Object.freeze([...scopes])
  return () => frozen
}

function resolvePrefix (prefix: unknown): string {
  if (prefix === undefined) return ''
  if (typeof prefix !== 'string' || (prefix !== '' && !prefix.startsWith('/'))) {
    throw new ConfigurationError("fastify-drizzle-auth: `prefix` must be a path starting with '/', e.g. '/api'")
  }
  return prefix.endsWith('/') ? prefix.slice(0, -1) : prefix
}
