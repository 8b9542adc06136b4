import type { ResolvedConfig } from '../config.ts'
import { describeError, TokenInvalidError, TokenRevokedError } from '../errors.ts'
import { refusal } from './access.ts'
import type { AuthEventEmitter, AuthLogger } from './events.ts'
import type { TokenPair } from './results.ts'
import type { StoreAccess } from './store-access.ts'
import { type AccessTokenCodec, hashRefreshToken, isRefreshTokenShape, newRefreshToken } from './tokens.ts'

export interface SessionDependencies {
  config: ResolvedConfig
  db: StoreAccess
  codec: AccessTokenCodec
  events: AuthEventEmitter
  log: AuthLogger
}

/** Refresh-token rotation (with reuse detection) and logout. */
export class SessionFlows {
  readonly #d: SessionDependencies

  constructor (dependencies: SessionDependencies) {
    this.#d = dependencies
  }

  async refresh (refreshToken: string): Promise<TokenPair> {
    const d = this.#d
    if (!isRefreshTokenShape(refreshToken)) throw new TokenInvalidError('Refresh token is invalid')
    const next = newRefreshToken()
    const now = new Date()
    const result = await d.db.call((store) => store.rotateRefreshToken(hashRefreshToken(refreshToken), hashRefreshToken(next), now))
    if (result.outcome === 'rotated') {
      const { userId, sessionId, expiresAt } = result
      return { accessToken: d.codec.sign(userId, sessionId), refreshToken: next, tokenType: 'bearer', expiresIn: d.codec.ttl, sessionId, sessionExpiresAt: expiresAt }
    }
    if (result.outcome === 'unknown') throw new TokenInvalidError('Refresh token is invalid')
    const verdict = refusal(result, now, d.config.refreshReuseGraceSeconds)
    if (verdict !== 'reuse') throw verdict
    const { session } = result
    await d.db.call((store) => store.revokeSession(session.id, 'refresh_token_reused', now))
    d.log.warn({ userId: session.userId, sessionId: session.id, generation: result.generation },
      'fastify-drizzle-auth: refresh token reuse detected, session revoked')
    d.events.emit('refresh_token_reused', { userId: session.userId, sessionId: session.id })
    throw new TokenRevokedError('Refresh token reuse detected: the session has been revoked')
  }

  async logout (token: string): Promise<void> {
    const d = this.#d
    try {
      const sessionId = await this.#sessionOf(token)
      if (sessionId === undefined) return
      const userId = await d.db.call((store) => store.revokeSession(sessionId, 'logout', new Date()))
      if (userId !== undefined) d.events.emit('user_logout', { userId, sessionId })
    } catch (err) {
      d.log.warn({ err: describeError(err) }, 'fastify-drizzle-auth: logout could not complete')
    }
  }

  async #sessionOf (token: string): Promise<string | undefined> {
    const d = this.#d
    if (isRefreshTokenShape(token)) return d.db.call((store) => store.findRefreshTokenSession(hashRefreshToken(token)))
    try {
      return d.codec.verify(token, { ignoreExpiration: true }).sid
    } catch {
      return undefined
    }
  }
}
