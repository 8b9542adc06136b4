import type { SessionListing } from '../db/store.ts'
import { SessionNotFoundError, UseLogoutError } from '../errors.ts'
import type { AuthEventEmitter } from './events.ts'
import { userIdOf } from './arguments.ts'
import type { StoreAccess } from './store-access.ts'
import { type AuthUser, existingUser, toAuthUser, withoutHash } from './user.ts'

/** A live session as the session list shows it: `current` when it is the one asking. */
export type ListedSession = SessionListing & { current: boolean }

/** The longest session list answered. */
export const MAX_LISTED = 100

export interface UserAdminDeps {
  clock: () => number
  db: StoreAccess
  events: AuthEventEmitter
}

/** What an application does to accounts and sessions from outside a request: block, unblock, end, purge. */
export class UserAdmin {
  readonly #clock: () => number
  readonly #db: StoreAccess
  readonly #events: AuthEventEmitter

  constructor ({ clock, db, events }: UserAdminDeps) {
    this.#clock = clock
    this.#db = db
    this.#events = events
  }

  async logoutAll (userId: string): Promise<number> {
    const id = userIdOf(userId)
    const count = await this.revokeAll(id, 'logout_all')
    this.#events.emit('user_logout', { userId: id, sessionId: null })
    return count
  }

  async deactivate (userId: string): Promise<void> {
    const id = userIdOf(userId)
    const now = new Date(this.#clock())
    existingUser(await this.#db.call((store) => store.users.update(id, { isActive: false }, now)))
    await this.revokeAll(id, 'deactivated')
    await this.#db.call((store) => store.actions.voidActionTokens(id, ['verify_email', 'reset_password', 'change_email'], now))
  }

  async activate (userId: string): Promise<void> {
    const id = userIdOf(userId)
    existingUser(await this.#db.call((store) => store.users.update(id, { isActive: true }, new Date(this.#clock()))))
  }

  async getUser (id: string): Promise<AuthUser | undefined> {
    const userId = userIdOf(id, 'id')
    const row = await this.#db.call((store) => store.users.findById(userId))
    return row === undefined ? undefined : toAuthUser(withoutHash(row))
  }

  async purgeExpired (): Promise<number> {
    const count = await this.#db.call((store) => store.maintenance.purgeExpired(new Date(this.#clock())))
    this.#events.emit('expired_purged', { count })
    return count
  }

  /** The user's live sessions, newest first (at most MAX_LISTED), the one making the request marked `current`. */
  async listSessions (userId: string, currentSessionId?: string | null): Promise<ListedSession[]> {
    const id = userIdOf(userId)
    const listed = await this.#db.call((store) => store.sessions.listForUser(id, new Date(this.#clock()), MAX_LISTED))
    return listed.map((session) => ({ ...session, current: session.id === currentSessionId }))
  }

  /** Ends one of the user's other sessions; an unknown, ended or another user's session is SessionNotFoundError. */
  async revokeSession (userId: string, sessionId: string, currentSessionId?: string | null): Promise<void> {
    const id = userIdOf(userId)
    if (typeof sessionId !== 'string' || sessionId === '') throw new SessionNotFoundError()
    if (sessionId === currentSessionId) throw new UseLogoutError()
    const revoked = await this.#db.call((store) => store.sessions.revokeOwned(sessionId, id, 'revoked', new Date(this.#clock())))
    if (!revoked) throw new SessionNotFoundError()
    this.#events.emit('session_revoked', { userId: id, sessionId, count: 1 })
  }

  /** Ends every session of the user but `currentSessionId`; returns how many. */
  async revokeOtherSessions (userId: string, currentSessionId: string | null): Promise<number> {
    const id = userIdOf(userId)
    const now = new Date(this.#clock())
    const count = await this.#db.call((store) => store.sessions.revokeForUser(id, 'revoked', now, currentSessionId ?? undefined))
    // Nothing ended, nothing to announce.
    if (count > 0) this.#events.emit('session_revoked', { userId: id, sessionId: null, count })
    return count
  }

  /** Revokes the user's sessions (but `exceptSessionId`) and device tokens; returns how many sessions were live. */
  async revokeAll (userId: string, reason: string, exceptSessionId?: string): Promise<number> {
    const now = new Date(this.#clock())
    const count = await this.#db.call((store) => store.sessions.revokeForUser(userId, reason, now, exceptSessionId))
    await this.#db.call((store) => store.devices.revokeForUser(userId, now))
    return count
  }
}
