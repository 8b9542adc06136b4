/// <reference types="@fastify/jwt" preserve="true" />
// The augmentation below needs @fastify/jwt's types loaded even where nothing else imports them.
import type { AnonymousUser } from './anonymous.ts'
import type { AuthService } from './service/auth-service.ts'
import type { AuthUser } from './service/user.ts'

/** What the bearer hook found: `absent` (no token), `rejected`, `valid`, or `unavailable` (the store failed). */
export type TokenStatus = 'absent' | 'rejected' | 'valid' | 'unavailable'

/** `request.auth`: the scopes granted, and the session the token belongs to. */
export interface AuthInfo {
  readonly scopes: readonly string[]
  readonly sessionId: string | null
  readonly tokenStatus: TokenStatus
}

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
    auth: AuthInfo
  }
  interface FastifyInstance {
    /** The plugin's AuthService (created on first use when the plugin was registered without options). */
    readonly authService: AuthService
  }
}
