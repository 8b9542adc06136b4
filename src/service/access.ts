import type { FoundSession, RotationResult } from '../db/store.ts'
import { AuthenticationError, ConflictError, TokenExpiredError, TokenInvalidError, TokenRevokedError } from '../errors.ts'
import type { VerifiedAccess, VerifyCallback } from './results.ts'
import { describeError } from '../errors.ts'
import type { AuthLogger } from './events.ts'
import type { StoreAccess } from './store-access.ts'
import type { AccessClaims, AccessTokenCodec } from './tokens.ts'
import { toAuthUser } from './user.ts'

/**
 * Whether the session an access token names still lets it in: that very session (a store's answer for another
 * one, say from a batch answered out of order, is refused), live, its user's, and the user active.
 */
export function acceptSession (claims: AccessClaims, found: FoundSession | undefined, now: number): VerifiedAccess {
  if (found === undefined || found.session.id !== claims.sid || found.session.userId !== claims.sub) throw new TokenInvalidError()
  if (found.session.revokedAt !== null) throw new TokenRevokedError()
  if (found.session.expiresAt.getTime() <= now) throw new TokenExpiredError('Session has expired')
  if (!found.user.isActive) throw new AuthenticationError('Account is inactive', 'inactive_account')
  return { user: toAuthUser(found.user), sessionId: claims.sid, claims }
}

type Spent = Extract<RotationResult, { outcome: 'spent' }>

/**
 * Why a presented refresh token was not consumed. Returns the error to raise, or `'reuse'` when it is a replay
 * that must revoke the whole session: anything but the previous generation replayed within the grace window.
 */
export function refusal (result: Spent, now: Date, graceSeconds: number, idleCutoff?: Date): Error | 'reuse' {
  const { session } = result
  if (session.revokedAt !== null) return new TokenRevokedError()
  if (session.expiresAt.getTime() <= now.getTime()) return new TokenExpiredError('Session has expired')
  // Idle too long: refused like an expired session (a store that does not say when it was last used, too).
  if (idleCutoff !== undefined && !(result.lastUsedAt?.getTime() > idleCutoff.getTime())) return new TokenExpiredError('Session has expired: it was idle too long')
  if (!result.userActive && result.usedAt === null) return new TokenRevokedError('The account is inactive')
  const graceMs = graceSeconds * 1000
  if (graceMs > 0 && result.generation === result.latestGeneration - 1 && result.usedAt !== null &&
    now.getTime() - result.usedAt.getTime() <= graceMs) {
    return new ConflictError('This refresh token was just rotated by another request', 'refresh_in_progress')
  }
  return 'reuse'
}

/**
 * Access-token verification: the signature and claims, then the session lookup (StoreAccess.lookups: the
 * lookups of one event-loop turn share one statement where the store can). A synchronous answer is settled
 * before `verify` returns.
 */
export class AccessVerifier {
  readonly #codec: AccessTokenCodec
  readonly #db: StoreAccess
  readonly #log: AuthLogger

  constructor (codec: AccessTokenCodec, db: StoreAccess, log: AuthLogger) {
    this.#codec = codec
    this.#db = db
    this.#log = log
  }

  verify (accessToken: string, callback: VerifyCallback): void {
    let claims: AccessClaims
    try {
      claims = this.#codec.verify(accessToken)
    } catch (err) {
      return callback(err as Error)
    }
    const lookups = this.#db.lookups
    let found: FoundSession | undefined | PromiseLike<FoundSession | undefined>
    try {
      found = lookups === undefined ? this.#db.call((s) => s.sessions.find(claims.sid)) : lookups.find(claims.sid)
    } catch (err) {
      return callback(this.#db.unavailable(err))
    }
    if (!isPromiseLike(found)) return settle(claims, found, this.#codec.now(), callback)
    found.then((answer) => { this.#call(() => { settle(claims, answer, this.#codec.now(), callback) }) },
      // A batch's failure arrives converted already (once for all its lookups); a store's own promise, as it failed.
      (err: unknown) => { this.#call(() => { callback(this.#db.unavailable(err)) }) })
  }

  // A callback that throws (a programming error) after an awaited lookup is logged, not left as an unhandled
  // rejection that would end the process.
  #call (run: () => void): void {
    try {
      run()
    } catch (err) {
      this.#log.error({ err: describeError(err) }, 'fastify-drizzle-auth: a token verification callback threw')
    }
  }
}

function isPromiseLike (value: unknown): value is PromiseLike<FoundSession | undefined> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function'
}

function settle (claims: AccessClaims, found: FoundSession | undefined, now: number, callback: VerifyCallback): void {
  let verified: VerifiedAccess
  try {
    verified = acceptSession(claims, found, now)
  } catch (err) {
    return callback(err as Error)
  }
  callback(null, verified)
}
