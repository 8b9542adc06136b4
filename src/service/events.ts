import type { MailMessageType } from './mail-messages.ts'
import type { AuthUser } from './user.ts'

export type LoginFailureReason = 'not_found' | 'inactive' | 'bad_password' | 'credentials_changed' | 'email_not_verified'

/** Every event the service emits, with its payload. Payloads never hold a password, token or hash. */
export interface AuthEvents {
  user_registered: { user: AuthUser }
  /** `method`: what proved who it is; `provider`: which identity provider, for `oauth`. */
  user_login: { user: AuthUser, sessionId: string, ip: string | null, userAgent: string | null, method: 'password' | 'oauth', provider?: string }
  user_login_failed: { email: string, reason: LoginFailureReason, ip: string | null }
  user_logout: { userId: string, sessionId: string | null }
  /** A session ended from the session list: one (`sessionId`), or every other one (`sessionId` null, `count`). */
  session_revoked: { userId: string, sessionId: string | null, count: number }
  /** A provider identity linked: by the user (`automatic` false, also a first sign-in's new account) or by a verified address on both sides. */
  account_linked: { userId: string, provider: string, automatic: boolean }
  account_unlinked: { userId: string, provider: string }
  password_changed: { userId: string }
  refresh_token_reused: { userId: string, sessionId: string }
  /** `email` is null for registrations (counted per address only). */
  rate_limit_exceeded: { action: LimitedAction, email: string | null, ip: string | null, retryAfter: number }
  /** The periodic (or a called) purge finished; `count` rows went (0 when another instance was purging). */
  expired_purged: { count: number }
  email_verified: { userId: string, email: string }
  /** Only for an existing, active account (the HTTP answer is the same either way). Never carries the token. */
  password_reset_requested: { userId: string, email: string, ip: string | null }
  password_reset: { userId: string }
  email_change_requested: { userId: string, newEmail: string }
  email_changed: { userId: string, oldEmail: string, newEmail: string }
  /** The outbox gave a message up (attempts used up, or a body this secret cannot open). */
  email_send_failed: { messageId: string, type: MailMessageType | null, to: string | null, attempts: number, error: string }
}

export type LimitedAction = 'login' | 'password_change' | 'email_change' | 'register' | 'mail_request' | 'token_submission' | 'provider_sign_in'

export type AuthEventName = keyof AuthEvents

export const AUTH_EVENT_NAMES: readonly AuthEventName[] = [
  'user_registered', 'user_login', 'user_login_failed', 'user_logout', 'password_changed', 'refresh_token_reused',
  'rate_limit_exceeded', 'expired_purged', 'email_verified', 'password_reset_requested', 'password_reset',
  'email_change_requested', 'email_changed', 'email_send_failed', 'session_revoked',
  'account_linked', 'account_unlinked'
]
export type AuthEventListener<E extends AuthEventName> = (payload: AuthEvents[E]) => unknown

export interface AuthLogger {
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
}

/** Where a service without a `logger` writes. */
export const consoleLogger: AuthLogger = {
  warn: (obj, msg) => { console.warn(msg, obj) },
  error: (obj, msg) => { console.error(msg, obj) }
}

/** A small typed emitter: a listener that throws or rejects is logged and never breaks the caller. */
export class AuthEventEmitter {
  readonly #listeners = new Map<AuthEventName, Set<AuthEventListener<AuthEventName>>>()
  readonly #log: AuthLogger

  constructor (log: AuthLogger) {
    this.#log = log
  }

  on<E extends AuthEventName>(event: E, listener: AuthEventListener<E>): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(listener as AuthEventListener<AuthEventName>)
    return () => { set.delete(listener as AuthEventListener<AuthEventName>) }
  }

  emit<E extends AuthEventName>(event: E, payload: AuthEvents[E]): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    for (const listener of set) {
      try {
        const result = listener(payload)
        if (result instanceof Promise) result.catch((err: unknown) => { this.#failed(event, err) })
      } catch (err) {
        this.#failed(event, err)
      }
    }
  }

  #failed (event: AuthEventName, err: unknown): void {
    this.#log.error({ event, err }, 'fastify-drizzle-auth: an event listener failed')
  }
}
