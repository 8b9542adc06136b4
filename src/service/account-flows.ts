import { randomUUID } from 'node:crypto'
import type { ResolvedConfig } from './config.ts'
import type { ActionPurpose, EmailChangeResult, NewActionToken, NewOutboxMessage, UserRecord } from '../db/store.ts'
import {
  AuthenticationError, ConfigurationError, ConflictError, describeError, InvalidActionTokenError, InvalidArgumentError, InvalidCurrentPasswordError
} from '../errors.ts'
import type { AccountLinks } from './account-config.ts'
import { objectArgument, optionalString, passwordArgument, userIdOf } from './arguments.ts'
import { normalizeAndCheckEmail } from './email.ts'
import type { AuthEventEmitter, AuthLogger } from './events.ts'
import type { AttemptLimiter } from './limits.ts'
import { type MailMessageType, type MailTemplateContext, renderMail } from './mail-messages.ts'
import type { OutboxSeal } from './outbox-seal.ts'
import type { PasswordHasher } from './passwords.ts'
import type { StoreAccess } from './store-access.ts'
import { hashActionToken, isActionTokenShape, newActionToken } from './tokens.ts'

export interface AccountDependencies {
  config: ResolvedConfig
  db: StoreAccess
  passwords: PasswordHasher
  limits: AttemptLimiter
  events: AuthEventEmitter
  seal: OutboxSeal
  /** Tells the delivery loop a message is waiting (it never makes the request wait). */
  wake: () => void
  log: AuthLogger
}

/** Runs work the answer does not need, once the answer is out. */
export type AfterAnswer = (work: () => Promise<void>) => void

export interface AccountRequestOptions {
  /** The client's address: counted by the mail and submission limits. */
  ip?: string | null
  /**
   * Where a mail-sending request puts the work its answer does not need (finding the account, writing the
   * token and its message, waking the sender), so that the answer takes the same time whatever the address
   * is. The bundled routes run it when the response has been sent; default: after the current turn.
   */
  after?: AfterAnswer
}

export interface EmailConfirmOptions extends AccountRequestOptions {
  /** The session the confirmation came from, if any: kept, every other session of the user ends. */
  keepSessionId?: string | null
}

/** The caller's `options.after`, checked before anything is written. */
export function afterAnswer (options: { after?: AfterAnswer }): AfterAnswer | undefined {
  const { after } = objectArgument(options, 'options')
  if (after !== undefined && typeof after !== 'function') throw new InvalidArgumentError('`options.after` must be a function when given')
  return after
}

const LINK_OF: Record<ActionPurpose, keyof AccountLinks> = {
  verify_email: 'verifyEmail', reset_password: 'resetPassword', change_email: 'changeEmail'
}
const MESSAGE_OF: Record<ActionPurpose, MailMessageType> = {
  verify_email: 'verify_email', reset_password: 'reset_password', change_email: 'change_email_confirm'
}

/**
 * Email verification, password reset and email change. Each request writes its token and its message in one
 * transaction (the outbox), and each use consumes the token by one conditional statement in the transaction
 * of its change. Tokens are 256 random bits of which only the SHA-256 is stored; no GET ever consumes one.
 */
export class AccountFlows {
  readonly #d: AccountDependencies
  readonly #pending = new Set<Promise<void>>()

  constructor (dependencies: AccountDependencies) {
    this.#d = dependencies
  }

  async requestEmailVerification (userId: string, options: AccountRequestOptions = {}): Promise<void> {
    const id = userIdOf(userId)
    const ip = this.#ip(options)
    const after = afterAnswer(options)
    this.#links()
    const user = await this.#user(id)
    if (user.isVerified) throw new ConflictError('Email address is already verified', 'already_verified')
    await this.#d.limits.mailRequest(ip)
    this.#afterAnswer(after, 'verification', async () => {
      await this.#issue('verify_email', await this.#d.limits.recipient('verify_email', user.email) ? user : undefined, user.email)
    })
  }

  /**
   * The anonymous way to a new verification link (an account that cannot log in before it verifies has no
   * other): the same answer, and the same work before it, for every address; an unverified active account's
   * link is written and sent after the answer.
   */
  async resendEmailVerification (email: string, options: AccountRequestOptions = {}): Promise<void> {
    await this.#mailToAddress(email, options, 'verify_email', (user) => !user.isVerified)
  }

  /** A new account's verification link, written and sent after the registration's answer. */
  sendVerification (user: UserRecord, after: AfterAnswer | undefined): void {
    this.#afterAnswer(after, 'verification', async () => {
      await this.#issue('verify_email', await this.#d.limits.recipient('verify_email', user.email) ? user : undefined, user.email)
    })
  }

  async verifyEmail (token: string, options: AccountRequestOptions = {}): Promise<void> {
    const hash = await this.#submitted(token, options)
    const done = await this.#d.db.call((store) => store.actions.verifyEmail(hash, new Date(this.#d.config.clock())))
    if (done === undefined) throw new InvalidActionTokenError()
    this.#d.events.emit('email_verified', { userId: done.userId, email: done.email })
  }

  /** Sends a reset link if the address belongs to an active account; the same work and answer when not. */
  async requestPasswordReset (email: string, options: AccountRequestOptions = {}): Promise<void> {
    await this.#mailToAddress(email, options, 'reset_password', () => true, (user, ip) => {
      this.#d.events.emit('password_reset_requested', { userId: user.id, email: user.email, ip })
    })
  }

  /**
   * A link asked for by address alone. Before the answer only the client's limit is counted, the same statement
   * whatever the address; after it (`options.after`) the account is looked up, the recipient's limit counted and
   * the token written (a no-op write when the address has no active account that `eligible` accepts), so the
   * work does not depend on the address either. The mail server is never waited for.
   */
  async #mailToAddress (email: string, options: AccountRequestOptions, purpose: 'verify_email' | 'reset_password',
    eligible: (user: UserRecord) => boolean, issued?: (user: UserRecord, ip: string | null) => void): Promise<void> {
    const normalized = normalizeAndCheckEmail(email)
    const ip = this.#ip(options)
    const after = afterAnswer(options)
    this.#links()
    await this.#d.limits.mailRequest(ip)
    this.#afterAnswer(after, purpose === 'verify_email' ? 'verification' : 'password reset', async () => {
      const found = await this.#d.db.call((store) => store.users.findByEmail(normalized))
      const allowed = await this.#d.limits.recipient(purpose, normalized)
      const user = found?.isActive === true && eligible(found) && allowed ? found : undefined
      await this.#issue(purpose, user, normalized)
      if (user !== undefined) issued?.(user, ip)
    })
  }

  /** Resolves when the work handed on after answers so far has run (`deliverMail` and `close` wait for it). */
  async settled (): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending)
  }

  /**
   * Hands `work` to the caller's scheduler (by default the next turn, counted as pending from now on); a
   * failure there can no longer change the answer, so it is logged.
   */
  #afterAnswer (after: AfterAnswer | undefined, what: string, work: () => Promise<void>): void {
    const job = async (): Promise<void> => {
      try {
        await work()
      } catch (err) {
        this.#d.log.warn({ err: describeError(err) }, `fastify-drizzle-auth: a ${what} request could not be completed after its answer`)
      }
    }
    if (after === undefined) this.#track(new Promise(setImmediate).then(job))
    else after(() => this.#track(job()))
  }

  #track (job: Promise<void>): Promise<void> {
    this.#pending.add(job)
    void job.finally(() => this.#pending.delete(job))
    return job
  }

  /**
   * Sets a new password from a reset token: every session and device token of the user ends, the address
   * counts as verified (the link proved it), and a notice goes to it. The user is not logged in.
   */
  async resetPassword (token: string, newPassword: string, options: AccountRequestOptions = {}): Promise<void> {
    const hash = await this.#submitted(token, options)
    passwordArgument(newPassword, 'newPassword')
    const { db, passwords, events } = this.#d
    const pending = await db.call((store) => store.actions.findActionToken(hash, 'reset_password', new Date(this.#d.config.clock())))
    if (pending === undefined) throw new InvalidActionTokenError()
    passwords.validate(newPassword, { email: pending.email })
    const passwordHash = await passwords.hash(newPassword)
    const notice = this.#message('password_changed', { to: pending.email })
    const done = await db.call((store) => store.actions.resetPassword(hash, passwordHash, notice, new Date(this.#d.config.clock())))
    if (done === undefined) throw new InvalidActionTokenError()
    this.#d.wake()
    events.emit('password_reset', { userId: done.userId })
  }

  /**
   * Sends a confirmation link to `newEmail`; the account keeps its address until it is followed. The current
   * password is required and counted like a login attempt.
   */
  async requestEmailChange (userId: string, currentPassword: string, newEmail: string, options: AccountRequestOptions = {}): Promise<void> {
    const id = userIdOf(userId)
    passwordArgument(currentPassword, 'currentPassword')
    const normalized = normalizeAndCheckEmail(newEmail)
    const ip = this.#ip(options)
    this.#links()
    const { db, passwords, limits, events } = this.#d
    const user = await this.#user(id)
    if (normalized === user.email) throw new ConflictError('This is already the address of the account', 'email_unchanged')
    await limits.mailRequest(ip)
    const matched = await passwords.withSlot('other', async (slot) => {
      const attempt = await limits.password('email_change', user.email, ip)
      const ok = await slot.verify(currentPassword, user.passwordHash)
      if (ok) await attempt.succeeded()
      return ok
    })
    if (!matched) throw new InvalidCurrentPasswordError()
    if (await db.call((store) => store.users.findByEmail(normalized)) !== undefined) {
      throw new ConflictError('Email is already registered', 'email_taken')
    }
    await limits.emailChange(user.id, ip)
    const allowed = await limits.recipient('change_email', normalized)
    await this.#issue('change_email', allowed ? user : undefined, normalized, normalized)
    events.emit('email_change_requested', { userId: user.id, newEmail: normalized })
  }

  /** Moves the account to the confirmed address (409 `email_taken` if it was taken meanwhile) and tells the old one. */
  async confirmEmailChange (token: string, options: EmailConfirmOptions = {}): Promise<void> {
    const hash = await this.#submitted(token, options)
    const keep = optionalString(options.keepSessionId, 'options.keepSessionId') ?? undefined
    const { db, events } = this.#d
    const notice = ({ oldEmail, newEmail }: EmailChangeResult) => this.#message('change_email_notice', { to: oldEmail, newEmail })
    const done = await db.call((store) => store.actions.confirmEmailChange(hash, notice, new Date(this.#d.config.clock()), keep))
    if (done === undefined) throw new InvalidActionTokenError()
    this.#d.wake()
    events.emit('email_changed', { userId: done.userId, oldEmail: done.oldEmail, newEmail: done.newEmail })
  }

  /** Writes the token and its message (or, with no user, the same statements on nothing) and wakes the sender. */
  async #issue (purpose: ActionPurpose, user: UserRecord | undefined, to: string, newEmail?: string): Promise<void> {
    const { config, db } = this.#d
    const links = this.#links()
    let issue: { token: NewActionToken, message: NewOutboxMessage } | null = null
    const now = new Date(config.clock())
    if (user !== undefined) {
      const token = newActionToken()
      const ttl = config.account.actionTokenTtl[LINK_OF[purpose]]
      const link = links[LINK_OF[purpose]].replaceAll('{token}', encodeURIComponent(token))
      issue = {
        token: {
          id: randomUUID(),
          tokenHash: hashActionToken(token),
          purpose,
          userId: user.id,
          email: to,
          newEmail: newEmail ?? null,
          createdAt: now,
          expiresAt: new Date(now.getTime() + ttl * 1000)
        },
        message: this.#message(MESSAGE_OF[purpose], { to, link, newEmail })
      }
    }
    await db.call((store) => store.actions.issueActionToken(issue, now))
    if (issue !== null) this.#d.wake()
  }

  #message (type: MailMessageType, context: MailTemplateContext): NewOutboxMessage {
    const id = randomUUID()
    const message = renderMail(this.#d.config.account.templates, type, context)
    return { id, payload: this.#d.seal.seal(id, message), createdAt: new Date(this.#d.config.clock()) }
  }

  #links (): AccountLinks {
    const { mailer, links } = this.#d.config.account
    if (mailer === undefined || links === undefined) {
      throw new ConfigurationError('fastify-drizzle-auth: emails cannot be sent: set `mailer` (smtpMailer, directoryMailer or your own) and `links`')
    }
    return links
  }

  async #submitted (token: string, options: AccountRequestOptions): Promise<string> {
    await this.#d.limits.submission(this.#ip(options))
    if (!isActionTokenShape(token)) throw new InvalidActionTokenError()
    return hashActionToken(token)
  }

  #ip (options: AccountRequestOptions): string | null {
    return optionalString(objectArgument(options, 'options').ip, 'options.ip')
  }

  async #user (id: string): Promise<UserRecord> {
    const row = await this.#d.db.call((store) => store.users.findById(id))
    if (row === undefined || !row.isActive) throw new AuthenticationError('User not found', 'user_not_found')
    return row
  }
}
