import { type AuthConfig, getConfig, type ResolvedConfig, resolveConfig } from './service/config.ts'
import { ConfigurationError } from './errors.ts'
import { checkKnownKeys, custom, type OptionsInput, resolveOptions } from './lib/option-schema.ts'
import { ROUTES_OPTIONS, type ResolvedRoutes, resolveRoutes } from './routes/options.ts'
import { SERVICE_OPTIONS } from './service/config-schema.ts'
import { type ResolvedTransport, resolveTransport, TRANSPORT_OPTIONS } from './transport/options.ts'
import { AuthService, serviceOnResolvedConfig } from './service/auth-service.ts'
import type { AuthUser } from './service/user.ts'

const isPrefix = (value: unknown) => typeof value === 'string' && (value === '' || value.startsWith('/'))

/** The plugin's own options besides the service's and the transport's, declared once. */
export const PLUGIN_OWN_OPTIONS = {
  authService: custom<AuthService>((value) => value instanceof AuthService, { doc: 'a ready service; the plugin then needs no other option', must: 'an AuthService instance' }),
  scopes: custom<readonly string[] | ((user: AuthUser) => readonly string[])>(
    (value) => typeof value === 'function' || (Array.isArray(value) && value.every((scope) => typeof scope === 'string' && scope !== '')), {
    doc: 'scopes for authenticated users, or `(user) => string[]`',
    must: 'an array of non-empty strings or a function (user) => string[]',
    defaultText: "`['authenticated']`"
  }),
  routes: ROUTES_OPTIONS,
  prefix: custom<string>(isPrefix, {
    doc: "Fastify's own `app.register(plugin, { prefix })`: applied to the bundled routes, before `routes.prefix`",
    must: "a path starting with '/', e.g. '/api'",
    defaultText: 'none'
  }),
} as const

/** Every option the plugin accepts: the service's, the transport's and its own. */
export const PLUGIN_OPTIONS = { ...SERVICE_OPTIONS, ...TRANSPORT_OPTIONS, ...PLUGIN_OWN_OPTIONS } as const

/** The plugin's options: every `configure()` key, plus the Fastify-side ones. */
export type FastifyDrizzleAuthOptions = OptionsInput<typeof PLUGIN_OPTIONS>

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

const DEFAULT_SCOPES = Object.freeze(['authenticated'])
// Fastify hands these to every plugin (the plugin leaves them to Fastify).
const FASTIFY_KEYS = new Set(['logLevel', 'logSerializers'])

/** Validates the options once, at registration; every failure is a ConfigurationError that says what to set. */
export function resolvePluginOptions (options: FastifyDrizzleAuthOptions, logger: AuthConfig['logger']): ResolvedPluginOptions {
  const { service: serviceOptions, transport: transportOptions, own: ownOptions } = splitOptions(options)
  const own = resolveOptions(PLUGIN_OWN_OPTIONS, ownOptions)
  const transport = resolveTransport(resolveOptions(TRANSPORT_OPTIONS, transportOptions))
  const given = own.authService
  const hasConfigKeys = Object.keys(serviceOptions).length > 0
  let config: ResolvedConfig
  if (given !== undefined) {
    config = given.config
  } else if (hasConfigKeys) {
    config = resolveConfig({ logger, ...serviceOptions })
  } else {
    const global = getConfigOrExplain()
    config = { ...global, logger: global.logger ?? logger }
  }

  // Explicit options open the database now, so a bad one fails ready(); the global pattern waits for
  // the first request, as the seed's TokenAuthBackend does.
  let created = given === undefined && hasConfigKeys ? serviceOnResolvedConfig(config) : undefined
  const service = given !== undefined
    ? () => given
    : () => { created ??= serviceOnResolvedConfig(config); return created }

  return {
    config,
    service,
    eager: created,
    ownsService: () => created !== undefined,
    scopesFor: resolveScopes(own.scopes),
    routes: resolveRoutes(own.routes, config.usersTable),
    transport,
    prefix: own.prefix === undefined || !own.prefix.endsWith('/') ? own.prefix ?? '' : own.prefix.slice(0, -1)
  }
}

/** The options by who takes them; a key nobody takes is refused, naming the closest known one. */
function splitOptions (options: object): Record<'service' | 'transport' | 'own', Record<string, unknown>> {
  const ours = Object.fromEntries(Object.entries(options).filter(([key]) => !FASTIFY_KEYS.has(key)))
  checkKnownKeys(ours, PLUGIN_OPTIONS)
  const parts = { service: {}, transport: {}, own: {} } as Record<'service' | 'transport' | 'own', Record<string, unknown>>
  for (const [key, value] of Object.entries(ours)) {
    if (value === undefined) continue
    const part = key in SERVICE_OPTIONS ? 'service' : key in TRANSPORT_OPTIONS ? 'transport' : 'own'
    parts[part][key] = value
  }
  return parts
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
  const frozen = Object.freeze([...scopes])
  return () => frozen
}
