import type { AttemptSettlement, NewSession, UserRecord } from '../db/store.ts'
import { amrOf } from './amr.ts'
import type { ResolvedConfig } from './config.ts'
import type { AuthEventEmitter } from './events.ts'
import type { RefreshTokens } from './refresh-tokens.ts'
import type { LoginResult } from './results.ts'
import type { StoreAccess } from './store-access.ts'
import { type AccessTokenCodec, hashDeviceToken, hashRefreshToken, newDeviceToken, newSessionId } from './tokens.ts'
import { toAuthUser, withoutHash } from './user.ts'

/** The longest user agent a session records (the rest is cut). */
export const MAX_USER_AGENT = 512

export interface SessionOpenerDependencies {
  config: ResolvedConfig
  db: StoreAccess
  events: AuthEventEmitter
  codec: AccessTokenCodec
  refreshTokens: RefreshTokens
}

/** How a sign-in (a password login, a provider's) asks for its session. */
export interface OpenRequest {
  /** The user as read when the sign-in was checked: its session is made only while it is still active with this password hash. */
  user: UserRecord
  /** 'password' or 'oauth:<provider>'. */
  method: string
  /** The device token presented and honoured (kept), or undefined (a new one is made). */
  device: string | undefined
  settle: AttemptSettlement | undefined
  userAgent: string | null
  ip: string | null
  /** Extra access-token claims. */
  claims?: Record<string, unknown>
}

export interface Opened {
  now: Date
  session: NewSession
  refreshToken: string
  deviceToken: string
}

/**
 * Every sign-in ends here: the session row with its first refresh token and device token, the last-login
 * stamp and the settled counts in one store call, then the same tokens and the same `user_login` event,
 * whatever proved who the person is.
 */
export class SessionOpener {
  readonly #d: SessionOpenerDependencies

  constructor (dependencies: SessionOpenerDependencies) {
    this.#d = dependencies
  }

  /** The session, or undefined (nothing written) when the user was deactivated or changed password meanwhile. */
  async open (request: OpenRequest): Promise<Opened | undefined> {
    const { config, db, refreshTokens } = this.#d
    const now = new Date(config.clock())
    const id = newSessionId()
    const refreshToken = refreshTokens.issue(id)
    const deviceToken = request.device ?? newDeviceToken()
    const session: NewSession = {
      id,
      userId: request.user.id,
      createdAt: now,
      expiresAt: new Date(now.getTime() + config.refreshTokenTtl * 1000),
      userAgent: request.userAgent,
      ip: request.ip,
      method: request.method
    }
    const device = request.device !== undefined ? undefined : { tokenHash: hashDeviceToken(deviceToken), expiresAt: new Date(now.getTime() + config.deviceTokenTtl * 1000) }
    const credentials = { passwordHash: request.user.passwordHash }
    const created = await db.call((store) => store.sessions.create(session, hashRefreshToken(refreshToken), credentials, { device, settle: request.settle }))
    return created ? { now, session, refreshToken, deviceToken } : undefined
  }

  /** The answer of a sign-in whose session is open, announced as `user_login`. */
  result (user: UserRecord, opened: Opened, request: Pick<OpenRequest, 'method' | 'claims' | 'ip' | 'userAgent'>): LoginResult {
    const { codec, events } = this.#d
    const { now, session, refreshToken, deviceToken } = opened
    const authUser = toAuthUser(withoutHash({ ...user, lastLogin: now }))
    const tokens = {
      accessToken: codec.sign(user.id, session.id, request.claims, amrOf(request.method)),
      refreshToken,
      tokenType: 'bearer' as const,
      expiresIn: codec.ttl,
      sessionId: session.id,
      sessionExpiresAt: session.expiresAt
    }
    // 'password', or 'oauth:<provider>'.
    const [how, provider] = request.method.split(':') as ['password' | 'oauth', string | undefined]
    events.emit('user_login', { user: authUser, sessionId: session.id, ip: request.ip, userAgent: request.userAgent, method: how, ...(provider === undefined ? {} : { provider }) })
    return { ...tokens, user: authUser, sessionId: session.id, tokens, deviceToken }
  }
}
