import type { UserRecord } from '../db/store.ts'
import { AuthenticationError, ConflictError, InvalidCurrentPasswordError } from '../errors.ts'
import { objectArgument, optionalString, passwordArgument, userIdOf } from './arguments.ts'
import type { AuthEventEmitter } from './events.ts'
import type { AttemptLimiter } from './limits.ts'
import type { PasswordHasher } from './passwords.ts'
import type { PasswordChangeOptions } from './results.ts'
import type { StoreAccess } from './store-access.ts'

export interface PasswordDependencies {
  /** The service's clock (`clock`). */
  clock: () => number
  db: StoreAccess
  passwords: PasswordHasher
  limits: AttemptLimiter
  events: AuthEventEmitter
  /** Ends the user's sessions (but one) and device tokens; returns how many sessions were live. */
  revokeAll: (userId: string, reason: string, exceptSessionId?: string) => Promise<number>
}

/** Checking and changing a known user's password. */
export class PasswordFlows {
  readonly #d: PasswordDependencies

  constructor (dependencies: PasswordDependencies) {
    this.#d = dependencies
  }

  async check (userOrId: string | { id: string }, password: string): Promise<boolean> {
    const id = userIdOf(userOrId, 'userOrId')
    passwordArgument(password)
    const row = await this.#d.db.call((store) => store.users.findById(id))
    return this.#d.passwords.verify(password, row?.passwordHash)
  }

  async set (userOrId: string | { id: string }, password: string, options: PasswordChangeOptions = {}): Promise<void> {
    const id = userIdOf(userOrId, 'userOrId')
    passwordArgument(password)
    const keep = optionalString(objectArgument(options, 'options').keepSessionId, 'options.keepSessionId')
    await this.#store(await this.findUser(id), password, keep)
  }

  async change (user: { id: string }, currentPassword: string, newPassword: string, options: PasswordChangeOptions = {}): Promise<void> {
    const id = userIdOf(user, 'user')
    passwordArgument(currentPassword, 'currentPassword')
    passwordArgument(newPassword, 'newPassword')
    const { ip: givenIp, keepSessionId } = objectArgument(options, 'options')
    const ip = optionalString(givenIp, 'options.ip')
    const keep = optionalString(keepSessionId, 'options.keepSessionId')
    const row = await this.findUser(id)
    if (row.passwordHash === null) {
      throw new ConflictError('This account has no password yet (it signs in through a provider): set one with "forgot password" and the emailed link', 'no_password')
    }
    const matched = await this.#d.passwords.withSlot('other', async (slot) => {
      const attempt = await this.#d.limits.password('password_change', row.email, ip)
      const ok = await slot.verify(currentPassword, row.passwordHash)
      if (ok) await attempt.succeeded()
      return ok
    })
    if (!matched) throw new InvalidCurrentPasswordError()
    // The row just read: no second lookup of the user.
    await this.#store(row, newPassword, keep)
  }

  async findUser (id: string): Promise<UserRecord> {
    const row = await this.#d.db.call((store) => store.users.findById(id))
    if (row === undefined) throw new AuthenticationError('User not found', 'user_not_found')
    return row
  }

  /** Stores the new hash, ends the other sessions and voids the reset and email-change links in flight. */
  async #store (row: UserRecord, password: string, keepSessionId: string | null): Promise<void> {
    const { db, passwords, events, clock } = this.#d
    passwords.validate(password, { email: row.email })
    const passwordHash = await passwords.hash(password)
    const now = new Date(clock())
    await db.call((store) => store.users.update(row.id, { passwordHash }, now))
    await this.#d.revokeAll(row.id, 'password_changed', keepSessionId ?? undefined)
    await db.call((store) => store.actions.voidActionTokens(row.id, ['reset_password', 'change_email'], now))
    events.emit('password_changed', { userId: row.id })
  }
}
