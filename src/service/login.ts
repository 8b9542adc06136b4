import type { ResolvedConfig } from './config.ts'
import { AuthenticationError, EmailNotVerifiedError } from '../errors.ts'
import { objectArgument, optionalString } from './arguments.ts'
import { normalizeEmail } from './email.ts'
import type { AuthEventEmitter, LoginFailureReason } from './events.ts'
import { type AttemptLimiter, ipKey } from './limits.ts'
import type { PasswordHasher, Slot } from './passwords.ts'
import type { LoginOptions, LoginResult } from './results.ts'
import type { StoreAccess } from './store-access.ts'
import { MAX_USER_AGENT, type SessionOpener } from './session-opener.ts'
import { hashDeviceToken, isDeviceTokenShape } from './tokens.ts'

export { MAX_USER_AGENT }

const INVALID_CREDENTIALS = 'Invalid credentials'

export interface LoginDependencies {
  config: ResolvedConfig
  db: StoreAccess
  passwords: PasswordHasher
  limits: AttemptLimiter
  events: AuthEventEmitter
  opener: SessionOpener
}

/**
 * A login: the attempt limits, one bcrypt comparison, a rehash at the configured cost when needed, and a
 * session created only if the credentials it checked are still the user's.
 */
export class LoginFlow {
  readonly #d: LoginDependencies

  constructor (dependencies: LoginDependencies) {
    this.#d = dependencies
  }

  async run (email: string, password: string, options: LoginOptions): Promise<LoginResult> {
    const { config, db, passwords, limits, events } = this.#d
    const { ip: givenIp, userAgent: givenAgent, claims, deviceToken: givenDevice } = objectArgument(options, 'options')
    const ip = optionalString(givenIp, 'options.ip')
    // Recorded for the session list, capped: a header is the client's to make as long as it likes.
    const userAgent = optionalString(givenAgent, 'options.userAgent')?.slice(0, MAX_USER_AGENT) ?? null
    // Not a string is simply not these credentials: the same work and the same answer as a wrong password.
    const normalized = normalizeEmail(String(email))
    const presented = isDeviceTokenShape(givenDevice) ? givenDevice : undefined
    // Looked up and checked for an unknown email too (it matches nothing): the same queries whether or not
    // the account exists. Before a hashing place is taken, an address or account over its limit is refused,
    // and a known device (a live device token of this account) gets the lane anonymous logins cannot fill;
    // any other login holds only a few places per address once the queue fills.
    const found = await db.call((store) => store.users.findByEmail(normalized))
    const claim = presented === undefined ? undefined : { tokenHash: hashDeviceToken(presented), userId: found?.id ?? '' }
    const { knownDevice } = await limits.preflight(normalized, ip, claim)
    // The attempt is counted once it holds a hashing slot, right before its comparison: parallel guesses
    // cannot slip past the limit, and logins merely waiting for a slot do not use up anyone's allowance.
    const address = knownDevice || ip === null ? undefined : ipKey(ip)
    const checked = await passwords.withSlot(knownDevice ? 'device' : 'login', async (slot) => {
      const attempt = await limits.password('login', normalized, ip, claim)
      const matched = await slot.verify(String(password), found?.passwordHash)
      if (found === undefined || !found.isActive || !matched) {
        await attempt.failed()
        const reason: LoginFailureReason = found === undefined ? 'not_found' : !found.isActive ? 'inactive' : 'bad_password'
        events.emit('user_login_failed', { email: normalized, reason, ip })
        throw new AuthenticationError(INVALID_CREDENTIALS, 'invalid_credentials')
      }
      // Only after the comparison: the refusal costs what any other failure costs.
      if (config.account.requireVerifiedEmail && !found.isVerified) {
        await attempt.succeeded()
        events.emit('user_login_failed', { email: normalized, reason: 'email_not_verified', ip })
        throw new EmailNotVerifiedError()
      }
      // A match implies a stored hash.
      const passwordHash = await this.#rehash(found.id, found.passwordHash!, String(password), slot)
      // Opened, its counts settled, while the slot is held: correct logins counted and not yet settled never
      // outnumber the slots, so concurrent correct logins cannot fill a limit.
      const user = { ...found, passwordHash }
      const opened = await this.#d.opener.open({ user, method: 'password', device: attempt.onDevice ? presented : undefined, settle: attempt.settlement, userAgent, ip })
      if (opened === undefined) {
        // A password change or deactivation committed while the password was being compared: it wins.
        events.emit('user_login_failed', { email: normalized, reason: 'credentials_changed', ip })
        throw new AuthenticationError(INVALID_CREDENTIALS, 'invalid_credentials')
      }
      return { user, opened }
    }, address)
    return this.#d.opener.result(checked.user, checked.opened, { method: 'password', claims, ip, userAgent })
  }

  /**
   * A hash made at another cost is replaced by one at the configured cost (only if it is still the stored
   * one), so existing accounts answer in the same time as unknown emails after `bcryptRounds` changes.
   * Returns the hash the user now has.
   */
  async #rehash (userId: string, current: string, password: string, slot: Slot): Promise<string> {
    if (!this.#d.passwords.needsRehash(current)) return current
    const next = await slot.hash(password)
    return await this.#d.db.call((store) => store.users.replacePasswordHash(userId, current, next, new Date(this.#d.config.clock()))) ? next : current
  }
}
