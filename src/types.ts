import type { AnonymousUser } from './anonymous.ts'
import type { AuthService } from './service/auth-service.ts'
import type { AuthUser } from './service/user.ts'

/**
 * What the hook found: `absent` (no token), `rejected`, `valid`, `unavailable` (the store failed), or
 * `csrf_rejected` (a cookie-authenticated unsafe request from an origin that may not send it).
 */
export type TokenStatus = 'absent' | 'rejected' | 'valid' | 'unavailable' | 'csrf_rejected'

/** `request.auth`: the scopes granted, and the session the token belongs to. */
export interface AuthInfo {
  readonly scopes: readonly string[]
  readonly sessionId: string | null
  readonly tokenStatus: TokenStatus
  /** How the token came: an `Authorization: Bearer` header or the access cookie; null when none came. */
  readonly transport: 'bearer' | 'cookie' | null
  /** How the session was made (RFC 8176): `pwd`, `oauth`; empty without a valid token. */
  readonly amr: readonly string[]
}

// @ts-ignore: @fastify/jwt is an optional peer. Where it is installed, its `request.user` is typed as the
// plugin's (the same type as the declaration below, so the two merge); where it is not, there is nothing to augment.
declare module '@fastify/jwt' {
  interface FastifyJWT {
    user: AuthUser | AnonymousUser
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false`: the bearer hook leaves this route's requests anonymous without reading the token. */
    authenticate?: boolean
  }
  interface FastifyRequest {
    /** The signed-in user, or the shared AnonymousUser: set by the plugin's hook on every request. */
    user: AuthUser | AnonymousUser
    auth: AuthInfo
  }
  interface FastifyInstance {
    /** The plugin's AuthService (created on first use when the plugin was registered without options). */
    readonly authService: AuthService
  }
}
