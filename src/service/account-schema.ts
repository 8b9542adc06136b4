/** The account options (verification, reset, email change, the outbox), declared once. */
import { custom, group, option, type OptionsInput } from '../lib/option-schema.ts'
import type { Mailer, MailTemplates } from './mail-messages.ts'

/** Where the emailed links point: the application's own pages, which POST the token (never a GET that consumes it). */
export interface AccountLinks {
  /** e.g. 'https://app.example/verify?token={token}' */
  verifyEmail: string
  resetPassword: string
  changeEmail: string
}

const link = (doc: string) => option.string(doc)
const isObject = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value)
const lifetime = (fallback: number, doc: string) =>
  option.integerBetween(900, 86_400, fallback, doc, `a whole number of seconds from 900 to 86400 (default ${fallback})`)

export const ACCOUNT_OPTIONS = {
  mailer: custom<Mailer>((value) => typeof (value as Partial<Mailer> | null)?.send === 'function', {
    doc: '`{ send(message) }`: `smtpMailer(url)`, `directoryMailer(dir)` or your own; with it (and `links`) the account routes are mounted',
    must: "an object with a send(message) method: smtpMailer('smtp://…'), directoryMailer('./data/mail') or your own"
  }),
  links: group('the pages the emailed links open, each an http(s) URL of your app holding `{token}`; required with `mailer`', {
    verifyEmail: link("e.g. `'https://app.example/verify?token={token}'`"),
    resetPassword: link("e.g. `'https://app.example/reset?token={token}'`"),
    changeEmail: link("e.g. `'https://app.example/confirm-email?token={token}'`")
  }),
  requireVerifiedEmail: option.boolean(false, 'unverified accounts get 403 `email_not_verified` at login (after the password check); needs `mailer` (refused at `ready()` without one)'),
  sendVerificationOnRegister: option.boolean(true, 'with `mailer`: a new account is sent its verification link after `/register` (or `register()`) has answered'),
  actionTokenTtl: group('link lifetimes, seconds, 900 to 86,400', {
    verifyEmail: lifetime(86_400, 'a verification link'),
    resetPassword: lifetime(3_600, 'a password-reset link'),
    changeEmail: lifetime(3_600, 'an email-change confirmation link')
  }),
  mailTemplates: custom<Partial<MailTemplates>>(isObject, {
    doc: 'replaces the text of any message: `{ [type]: ({ to, link?, newEmail? }) => ({ subject, text, html }) }`',
    must: 'an object of templates, each (context) => ({ subject, text, html })',
    defaultText: 'the defaults'
  }),
  outbox: group('how the outbox delivers', {
    maxAttempts: option.positiveInteger(8, 'delivery attempts before a message is given up (`email_send_failed`)'),
    retryDelayMs: option.positiveInteger(5_000, 'wait after the first failure, doubled after each further one'),
    maxRetryDelayMs: option.positiveInteger(3_600_000, 'the longest wait between attempts'),
    pollIntervalMs: option.positiveInteger(1_000, 'how often due messages are looked for, besides right after a request queued one'),
    leaseMs: option.positiveInteger(60_000, 'how long a sender holds a claimed message before another may take it'),
    closeTimeoutMs: option.positiveInteger(5_000, 'how long closing waits for sends in flight before leaving them to their lease')
  }),
  mailRateLimit: group('limits on requests that send mail and on token submissions', {
    perRecipientSeconds: option.positiveInteger(60, 'one message per recipient and purpose within this many seconds; more are answered alike and not sent'),
    maxRequestsPerIp: option.positiveInteger(5, 'requests that send mail, per client IP within the window; more get 429'),
    maxSubmissionsPerIp: option.positiveInteger(30, 'token submissions (verify, reset, confirm) per client IP within the window; more get 429'),
    windowSeconds: option.positiveInteger(900, 'window length in seconds'),
    maxEmailChangesPerAccount: option.positiveInteger(3, 'email-change requests per account within `accountWindowSeconds`; more get 429'),
    accountWindowSeconds: option.positiveInteger(3_600, 'window of the per-account limit, seconds')
  }, { allowFalse: true })
} as const

/** Email verification, password reset and email change. */
export type AccountConfig = OptionsInput<typeof ACCOUNT_OPTIONS>
export type ActionTokenTtlConfig = NonNullable<AccountConfig['actionTokenTtl']>
export type OutboxConfig = NonNullable<AccountConfig['outbox']>
export type MailRateLimitConfig = Exclude<NonNullable<AccountConfig['mailRateLimit']>, false>
