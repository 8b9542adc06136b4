import { createSigner } from 'fast-jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ResolvedConfig } from './service/config.ts'
import { ConfigurationError } from './errors.ts'
import type { AnonymousUser } from './anonymous.ts'
import type { AuthUser } from './service/user.ts'

/** The parts of an @fastify/jwt registration looked at here (`fastify.jwt`, or one namespace of it). */
interface JwtRegistration {
  verify: (token: string) => unknown
  options?: { decoratorName?: unknown }
}

/** The @fastify/jwt registrations an instance sees: `fastify.jwt` itself, or each of its namespaces. */
function registrations (instance: FastifyInstance): JwtRegistration[] {
  const jwt = (instance as unknown as { jwt?: unknown }).jwt
  if (jwt === null || typeof jwt !== 'object') return []
  const candidates = typeof (jwt as Partial<JwtRegistration>).verify === 'function' ? [jwt] : Object.values(jwt)
  return candidates.filter((value): value is JwtRegistration => typeof (value as Partial<JwtRegistration> | null)?.verify === 'function')
}

/**
 * Living beside an application's own @fastify/jwt. The plugin registers none itself, so `fastify.jwt` and
 * `request.jwtVerify()` are only ever the application's; two guarantees remain:
 * - such a registration must not accept the plugin's access tokens (the same secret would verify them
 *   without revocation): the plugin refuses to start when one does;
 * - `request.user` is the plugin's: where @fastify/jwt would write its verified payload there
 *   (`decoratorName: 'user'`, its default), the hook makes the property ignore writes.
 */
export function jwtCoexistence (config: Pick<ResolvedConfig, 'secret' | 'algorithm' | 'issuer' | 'audience'>) {
  const probe = createSigner({
    key: config.secret,
    algorithm: config.algorithm,
    expiresIn: 60_000,
    ...(config.issuer === undefined ? {} : { iss: config.issuer }),
    ...(config.audience === undefined ? {} : { aud: config.audience })
  })({ sub: 'fastify-drizzle-auth:probe', sid: 'probe', typ: 'access' })
  const checked = new WeakSet<FastifyInstance>()
  const userWriters = new WeakMap<FastifyInstance, boolean>()
  // Registrations whose key is a function answer later: their verdicts, awaited by settle().
  const pending: Array<Promise<boolean>> = []
  const refusal = (): ConfigurationError => new ConfigurationError('fastify-drizzle-auth: an @fastify/jwt registration accepts this plugin\'s access tokens ' +
    '(it has the same secret), so request.jwtVerify() would let revoked tokens through: give @fastify/jwt a secret of its own')

  return {
    /** Throws a ConfigurationError when an @fastify/jwt seen from `instance` accepts the plugin's tokens. */
    check (instance: FastifyInstance): void {
      if (checked.has(instance)) return
      checked.add(instance)
      for (const registration of registrations(instance)) {
        const verdict = accepts(registration, probe)
        if (verdict === true) throw refusal()
        if (verdict !== false) pending.push(verdict)
      }
    },

    /** At ready: the same refusal for a registration whose (function) key accepted the token meanwhile. */
    async settle (): Promise<void> {
      const verdicts = await Promise.all(pending.splice(0))
      if (verdicts.includes(true)) throw refusal()
    },

    /** Sets `request.user`; where @fastify/jwt would overwrite it, as a property that ignores writes. */
    setUser (request: FastifyRequest, user: AuthUser | AnonymousUser): void {
      const server = request.server
      let guarded = userWriters.get(server)
      if (guarded === undefined) {
        guarded = registrations(server).some((registration) => (registration.options?.decoratorName ?? 'user') === 'user')
        userWriters.set(server, guarded)
      }
      if (!guarded) {
        request.user = user
        return
      }
      Object.defineProperty(request, 'user', { configurable: true, enumerable: true, get: () => user, set: ignoreWrite })
    }
  }
}

function ignoreWrite (): void {}

/**
 * Whether the registration verifies `token`: at once, or (a key that is an async function) as a promise. A key
 * function of the callback style cannot be asked outside a request: it counts as not accepting.
 */
function accepts (registration: JwtRegistration, token: string): boolean | Promise<boolean> {
  let result: unknown
  try {
    result = registration.verify(token)
  } catch {
    return false
  }
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    return (result as Promise<unknown>).then(() => true, () => false)
  }
  return true
}

export type JwtCoexistence = ReturnType<typeof jwtCoexistence>
