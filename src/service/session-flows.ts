import { amrOf } from './amr.ts'
import type { ResolvedConfig } from './config.ts'
import { describeError, TokenExpiredError, TokenInvalidError, TokenRevokedError } from '../errors.ts'
import { refusal } from './access.ts'
import type { AuthEventEmitter, AuthLogger } from './events.ts'
import type { TokenPair } from './results.ts'
import type { StoreAccess } from './store-access.ts'
import type { RefreshTokens } from './refresh-tokens.ts'
import { type AccessTokenCodec, hashRefreshToken } from './tokens.ts'

export interface SessionDependencies {
  config: ResolvedConfig
  db: StoreAccess
  codec: AccessTokenCodec
  refreshTokens: RefreshTokens
  events: AuthEventEmitter
  log: AuthLogger
}

/** Refresh-token rotation (with reuse detection) and logout. */
export class SessionFlows {
  readonly #d: SessionDependencies

  constructor (dependencies: SessionDependencies) {
    this.#d = dependencies
  }

  async refresh (refreshToken: string, ip: string | null = null): Promise<TokenPair> {
    const d = this.#d
    const presented = d.refreshTokens.read(refreshToken)
    if (presented === undefined) throw new TokenInvalidError('Refresh token is invalid')
    const hash = hashRefreshToken(refreshToken)
    // A token of the earlier format names no session: its row does (it is rotated into the current format).
    const sessionId = presented.format === 'named'
      ? presented.sessionId
      : await d.db.call((store) => store.sessions.findByRefreshToken(hash))
    if (sessionId === undefined) throw new TokenInvalidError('Refresh token is invalid')
    const next = d.refreshTokens.issue(sessionId)
    const now = new Date(d.config.clock())
    const idle = d.config.sessionIdleTimeoutSeconds
    const idleCutoff = idle === undefined ? undefined : new Date(now.getTime() - idle * 1000)
    const result = await d.db.call((store) => store.sessions.rotateRefreshToken(hash, hashRefreshToken(next), now, { ip, idleCutoff }))
    if (result.outcome === 'rotated') {
      const { userId, expiresAt, method } = result
      return { accessToken: d.codec.sign(userId, sessionId, {}, amrOf(method)), refreshToken: next, tokenType: 'bearer', expiresIn: d.codec.ttl, sessionId, sessionExpiresAt: expiresAt }
    }
    if (result.outcome === 'spent') {
      const verdict = refusal(result, now, d.config.refreshReuseGraceSeconds, idleCutoff)
      if (verdict !== 'reuse') throw verdict
      return this.#reused(result.session.id, now)
    }
    // Not stored, yet a token of this session: genuine by its mac, or (earlier format) found a moment ago and
    // dropped since by another rotation. Either way an older token than the two the session keeps.
    const found = await d.db.call((store) => store.sessions.find(sessionId))
    if (found === undefined) throw new TokenInvalidError('Refresh token is invalid')
    if (found.session.revokedAt !== null) throw new TokenRevokedError()
    if (found.session.expiresAt.getTime() <= now.getTime()) throw new TokenExpiredError('Session has expired')
    return this.#reused(sessionId, now)
  }

  /** A refresh token used before, replayed: the whole session ends. */
  async #reused (sessionId: string, now: Date): Promise<never> {
    const d = this.#d
    const userId = await d.db.call((store) => store.sessions.revoke(sessionId, 'refresh_token_reused', now))
    if (userId !== undefined) {
      d.log.warn({ userId, sessionId }, 'fastify-drizzle-auth: refresh token reuse detected, session revoked')
      d.events.emit('refresh_token_reused', { userId, sessionId })
    }
    throw new TokenRevokedError('Refresh token reuse detected: the session has been revoked')
  }

  async logout (token: string): Promise<void> {
    const d = this.#d
    try {
      const sessionId = await this.#sessionOf(token)
      if (sessionId === undefined) return
      const userId = await d.db.call((store) => store.sessions.revoke(sessionId, 'logout', new Date(d.config.clock())))
      if (userId !== undefined) d.events.emit('user_logout', { userId, sessionId })
    } catch (err) {
      d.log.warn({ err: describeError(err) }, 'fastify-drizzle-auth: logout could not complete')
    }
  }

  async #sessionOf (token: string): Promise<string | undefined> {
    const d = this.#d
    const presented = d.refreshTokens.read(token)
    if (presented?.format === 'named') return presented.sessionId
    if (presented?.format === 'legacy') return d.db.call((store) => store.sessions.findByRefreshToken(hashRefreshToken(token)))
    try {
      return d.codec.verify(token, { ignoreExpiration: true }).sid
    } catch {
      return undefined
    }
  }
}
