import type { FoundSession, RotationResult } from '../db/store.ts'
import { AuthenticationError, ConflictError, TokenExpiredError, TokenInvalidError, TokenRevokedError } from '../errors.ts'
import type { VerifiedAccess, VerifyCallback } from './results.ts'
import type { StoreAccess } from './store-access.ts'
import type { AccessClaims, AccessTokenCodec } from './tokens.ts'
import { toAuthUser } from './user.ts'

/** Whether the session an access token names still lets it in: live, its user's, and the user active. */
export function acceptSession (claims: AccessClaims, found: FoundSession | undefined): VerifiedAccess {
  if (found === undefined || found.session.userId !== claims.sub) throw new TokenInvalidError()
  if (found.session.revokedAt !== null) throw new TokenRevokedError()
  if (found.session.expiresAt.getTime() <= Date.now()) throw new TokenExpiredError('Session has expired')
  if (!found.user.isActive) throw new AuthenticationError('Account is inactive', 'inactive_account')
  return { user: toAuthUser(found.user), sessionId: claims.sid, claims }
}

type Spent = Extract<RotationResult, { outcome: 'spent' }>

/**
 * Why a presented refresh token was not consumed. Returns the error to raise, or `'reuse'` when it is a replay
 * that must revoke the whole session: anything but the previous generation replayed within the grace window.
 */
export function refusal (result: Spent, now: Date, graceSeconds: number): Error | 'reuse' {
  const { session } = result
  if (session.revokedAt !== null) return new TokenRevokedError()
  if (session.expiresAt.getTime() <= now.getTime()) return new TokenExpiredError('Session has expired')
  if (!result.userActive && result.usedAt === null) return new TokenRevokedError('The account is inactive')
  const graceMs = graceSeconds * 1000
  if (graceMs > 0 && result.generation === result.latestGeneration - 1 && result.usedAt !== null &&
    now.getTime() - result.usedAt.getTime() <= graceMs) {
    return new ConflictError('This refresh token was just rotated by another request', 'refresh_in_progress')
  }
  return 'reuse'
}

/**
 * Access-token verification: the signature and claims, then the session lookup. On a synchronous store the
 * callback runs before `verify` returns, so the bearer hook makes no promise at all.
 */
export class AccessVerifier {
  readonly #codec: AccessTokenCodec
  readonly #db: StoreAccess

  constructor (codec: AccessTokenCodec, db: StoreAccess) {
    this.#codec = codec
    this.#db = db
  }

  verify (accessToken: string, callback: VerifyCallback): void {
    let claims: AccessClaims
    try {
      claims = this.#codec.verify(accessToken)
    } catch (err) {
      return callback(err as Error)
    }
    const store = this.#db.current
    if (store?.mode !== 'sync') {
      this.#db.call((s) => s.findSession(claims.sid))
        .then((found) => { settle(claims, found, callback) }, (err: Error) => { callback(err) })
      return
    }
    let found: FoundSession | undefined
    try {
      found = store.findSession(claims.sid)
    } catch (err) {
      return callback(this.#db.unavailable(err))
    }
    settle(claims, found, callback)
  }
}

function settle (claims: AccessClaims, found: FoundSession | undefined, callback: VerifyCallback): void {
  let verified: VerifiedAccess
  try {
    verified = acceptSession(claims, found)
  } catch (err) {
    return callback(err as Error)
  }
  callback(null, verified)
}
