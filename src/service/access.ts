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

interface Waiting { claims: AccessClaims, callback: VerifyCallback }

/** Statements in flight on an asynchronous store; lookups gathered meanwhile wait for one to end. */
const MAX_BATCHES_IN_FLIGHT = 2
/** A statement in flight longer than this no longer holds the others back (a stuck connection must not stall every request). */
export const SLOW_BATCH_MS = 100

/**
 * Access-token verification: the signature and claims, then the session lookup. A store that answers several
 * lookups at once (`sessions.findMany`) gets those of one event-loop turn together, looked up after the turn's
 * requests have arrived (so never from an older snapshot than a lookup of its own would see); on an
 * asynchronous one, while two such statements are in flight the next waits for one to end (or for one to
 * have taken SLOW_BATCH_MS), so a busy server sends fewer, larger ones. Any other store is asked once per
 * token, a synchronous one before `verify` returns.
 */
export class AccessVerifier {
  readonly #codec: AccessTokenCodec
  readonly #db: StoreAccess
  readonly #log: AuthLogger
  #waiting: Waiting[] = []
  #scheduled = false
  #inFlight = 0

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
    const store = this.#db.current
    if (store?.sessions.findMany !== undefined) {
      this.#waiting.push({ claims, callback })
      this.#schedule()
      return
    }
    if (store?.mode !== 'sync') {
      this.#db.call((s) => s.sessions.find(claims.sid))
        .then((found) => { settle(claims, found, this.#codec.now(), callback) }, (err: Error) => { callback(err) })
      return
    }
    let found: FoundSession | undefined
    try {
      found = store.sessions.find(claims.sid)
    } catch (err) {
      return callback(this.#db.unavailable(err))
    }
    settle(claims, found, this.#codec.now(), callback)
  }

  #schedule (): void {
    if (this.#scheduled || this.#waiting.length === 0 || this.#inFlight >= MAX_BATCHES_IN_FLIGHT) return
    this.#scheduled = true
    setImmediate(this.#lookUpWaiting)
  }

  readonly #lookUpWaiting = (): void => {
    this.#scheduled = false
    const waiting = this.#waiting
    this.#waiting = []
    const ids = waiting.map((w) => w.claims.sid)
    const store = this.#db.store
    if (store.mode === 'async') {
      this.#inFlight++
      let released = false
      const ended = (): void => {
        if (released) return
        released = true
        clearTimeout(slow)
        this.#inFlight--
        this.#schedule()
      }
      const slow = setTimeout(ended, SLOW_BATCH_MS)
      let answer: Promise<Array<FoundSession | undefined>>
      try {
        answer = store.sessions.findMany!(ids)
      } catch (err) {
        answer = Promise.reject(err)
      }
      answer.then((found) => { ended(); this.#settleAll(waiting, found) }, (err: unknown) => { ended(); this.#failAll(waiting, err) })
      return
    }
    let found: Array<FoundSession | undefined>
    try {
      found = store.sessions.findMany!(ids)
    } catch (err) {
      return this.#failAll(waiting, err)
    }
    this.#settleAll(waiting, found)
  }

  #settleAll (waiting: Waiting[], found: Array<FoundSession | undefined>): void {
    const now = this.#codec.now()
    this.#callEach(waiting, (w, i) => { settle(w.claims, found[i], now, w.callback) })
  }

  #failAll (waiting: Waiting[], err: unknown): void {
    const unavailable = this.#db.unavailable(err)
    this.#callEach(waiting, (w) => { w.callback(unavailable) })
  }

  // A callback that throws (a programming error) must not leave the rest of the turn's requests waiting: it is
  // logged, and every other callback still runs.
  #callEach (waiting: Waiting[], call: (w: Waiting, i: number) => void): void {
    for (let i = 0; i < waiting.length; i++) {
      try {
        call(waiting[i], i)
      } catch (err) {
        this.#log.error({ err: describeError(err) }, 'fastify-drizzle-auth: a token verification callback threw')
      }
    }
  }
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
