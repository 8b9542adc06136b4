import { ConfigurationError } from '../errors.ts'
import { positiveInteger } from '../lib/option-checks.ts'
import { defaultTemplates, MAIL_MESSAGE_TYPES, type Mailer, type MailTemplate, type MailTemplates, renderMail } from './mail-messages.ts'

/** Where the emailed links point: the application's own pages, which POST the token (never a GET that consumes it). */
export interface AccountLinks {
  /** e.g. 'https://app.example/verify?token={token}' */
  verifyEmail: string
  resetPassword: string
  changeEmail: string
}

export interface OutboxConfig {
  /** Delivery attempts before a message is given up (`email_send_failed`); default 8. */
  maxAttempts?: number
  /** Wait after the first failure, doubled after each further one (default 5,000 ms), up to `maxRetryDelayMs` (default 1 hour). */
  retryDelayMs?: number
  maxRetryDelayMs?: number
  /** How often due messages are looked for, besides right after a request queued one (default 1,000 ms). */
  pollIntervalMs?: number
  /** How long a sender holds a claimed message before another may take it (default 60,000 ms). */
  leaseMs?: number
  /** How long closing waits for sends in flight before leaving them to their lease (default 5,000 ms). */
  closeTimeoutMs?: number
}

export interface MailRateLimitConfig {
  /** One message per recipient and purpose within this many seconds; more are answered alike and not sent (default 60). */
  perRecipientSeconds?: number
  /** Requests that send mail, per client IP within the window (default 5); more get 429. */
  maxRequestsPerIp?: number
  /** Token submissions (verify, reset, confirm) per client IP within the window (default 30); more get 429. */
  maxSubmissionsPerIp?: number
  /** Window length in seconds (default 900). */
  windowSeconds?: number
  /** Email-change requests per account within `accountWindowSeconds`, whatever the new address (default 3); more get 429. */
  maxEmailChangesPerAccount?: number
  /** Window of the per-account limit, in seconds (default 3,600). */
  accountWindowSeconds?: number
}

export interface ActionTokenTtlConfig {
  /** Seconds, 900 to 86,400 (default 86,400). */
  verifyEmail?: number
  /** Seconds, 900 to 86,400 (default 3,600). */
  resetPassword?: number
  /** Seconds, 900 to 86,400 (default 3,600). */
  changeEmail?: number
}

/** Email verification, password reset and email change. */
export interface AccountConfig {
  /** Sends the outbox's messages: `smtpMailer(url)`, `directoryMailer(dir)` or any `{ send(message) }`. */
  mailer?: Mailer
  /** The pages the emailed links open; each holds `{token}`. Required with `mailer`. */
  links?: AccountLinks
  /** Unverified accounts get 403 `email_not_verified` at login (default false); needs `mailer`. */
  requireVerifiedEmail?: boolean
  /** With `mailer`, a new account is sent its verification link after the registration's answer (default true). */
  sendVerificationOnRegister?: boolean
  actionTokenTtl?: ActionTokenTtlConfig
  /** Replaces the text of any message: `(context) => ({ subject, text, html })`. */
  mailTemplates?: Partial<MailTemplates>
  outbox?: OutboxConfig
  /** The limits on requests that send mail and on token submissions, or false to turn them off. */
  mailRateLimit?: MailRateLimitConfig | false
}

export interface ResolvedAccountConfig {
  mailer: Mailer | undefined
  links: AccountLinks | undefined
  requireVerifiedEmail: boolean
  sendVerificationOnRegister: boolean
  actionTokenTtl: Required<ActionTokenTtlConfig>
  templates: MailTemplates
  outbox: Required<OutboxConfig>
  mailRateLimit: Required<MailRateLimitConfig> | false
}

const LINK_KEYS = ['verifyEmail', 'resetPassword', 'changeEmail'] as const

/** Checks the account options once; each message says what to set. */
export function resolveAccountConfig (config: AccountConfig): ResolvedAccountConfig {
  const { mailer, links } = config
  if (mailer !== undefined && typeof (mailer as Partial<Mailer> | null)?.send !== 'function') {
    throw new ConfigurationError("fastify-drizzle-auth: `mailer` must have a send(message) method: smtpMailer('smtp://…'), directoryMailer('./data/mail') or your own")
  }
  if (mailer !== undefined && links === undefined) {
    throw new ConfigurationError("fastify-drizzle-auth: `links` is missing: with `mailer`, set links: { verifyEmail, resetPassword, changeEmail }, each a URL of your app with {token}, e.g. 'https://app.example/verify?token={token}'")
  }
  if (links !== undefined) checkLinks(links)
  for (const key of ['requireVerifiedEmail', 'sendVerificationOnRegister'] as const) {
    if (config[key] !== undefined && typeof config[key] !== 'boolean') throw new ConfigurationError(`fastify-drizzle-auth: \`${key}\` must be true or false`)
  }
  if (config.requireVerifiedEmail === true && mailer === undefined) {
    throw new ConfigurationError('fastify-drizzle-auth: `requireVerifiedEmail` needs `mailer` (and `links`): without one no account could ever receive its verification link, so none could log in')
  }
  const ttl = config.actionTokenTtl ?? {}
  const templates = { ...defaultTemplates }
  for (const [type, template] of Object.entries(config.mailTemplates ?? {})) {
    if (!MAIL_MESSAGE_TYPES.includes(type as keyof MailTemplates) || typeof template !== 'function') {
      throw new ConfigurationError(`fastify-drizzle-auth: \`mailTemplates.${type}\` is not a template: use one of ${MAIL_MESSAGE_TYPES.join(', ')}, each (context) => ({ subject, text, html })`)
    }
    templates[type as keyof MailTemplates] = template as MailTemplate
    // Tried once here: a template that cannot render would otherwise fail only after a request was answered.
    try {
      renderMail(templates, type as keyof MailTemplates, { to: 'someone@example.com', link: 'https://app.example/?token=sample', newEmail: 'new@example.com' })
    } catch (err) {
      if (err instanceof ConfigurationError) throw err
      throw new ConfigurationError(`fastify-drizzle-auth: the \`mailTemplates.${type}\` template threw on a sample message: ${(err as Error).message}`)
    }
  }
  const outbox = config.outbox ?? {}
  const limit = config.mailRateLimit
  return {
    mailer,
    links,
    requireVerifiedEmail: config.requireVerifiedEmail ?? false,
    sendVerificationOnRegister: config.sendVerificationOnRegister ?? true,
    actionTokenTtl: {
      verifyEmail: lifetime(ttl.verifyEmail, 86_400, 'verifyEmail'),
      resetPassword: lifetime(ttl.resetPassword, 3_600, 'resetPassword'),
      changeEmail: lifetime(ttl.changeEmail, 3_600, 'changeEmail')
    },
    templates,
    outbox: {
      maxAttempts: positiveInteger(outbox.maxAttempts, 8, 'outbox.maxAttempts'),
      retryDelayMs: positiveInteger(outbox.retryDelayMs, 5_000, 'outbox.retryDelayMs'),
      maxRetryDelayMs: positiveInteger(outbox.maxRetryDelayMs, 3_600_000, 'outbox.maxRetryDelayMs'),
      pollIntervalMs: positiveInteger(outbox.pollIntervalMs, 1_000, 'outbox.pollIntervalMs'),
      leaseMs: positiveInteger(outbox.leaseMs, 60_000, 'outbox.leaseMs'),
      closeTimeoutMs: positiveInteger(outbox.closeTimeoutMs, 5_000, 'outbox.closeTimeoutMs')
    },
    mailRateLimit: limit === false
      ? false
      : {
          perRecipientSeconds: positiveInteger(limit?.perRecipientSeconds, 60, 'mailRateLimit.perRecipientSeconds'),
          maxRequestsPerIp: positiveInteger(limit?.maxRequestsPerIp, 5, 'mailRateLimit.maxRequestsPerIp'),
          maxSubmissionsPerIp: positiveInteger(limit?.maxSubmissionsPerIp, 30, 'mailRateLimit.maxSubmissionsPerIp'),
          windowSeconds: positiveInteger(limit?.windowSeconds, 900, 'mailRateLimit.windowSeconds'),
          maxEmailChangesPerAccount: positiveInteger(limit?.maxEmailChangesPerAccount, 3, 'mailRateLimit.maxEmailChangesPerAccount'),
          accountWindowSeconds: positiveInteger(limit?.accountWindowSeconds, 3_600, 'mailRateLimit.accountWindowSeconds')
        }
  }
}

function checkLinks (links: AccountLinks): void {
  for (const key of LINK_KEYS) {
    const link = (links as Partial<AccountLinks> | null)?.[key]
    let url: URL | undefined
    try { url = new URL(String(link)) } catch {}
    if (typeof link !== 'string' || !link.includes('{token}') || (url?.protocol !== 'https:' && url?.protocol !== 'http:')) {
      throw new ConfigurationError(`fastify-drizzle-auth: \`links.${key}\` must be an http(s) URL of your app's page holding {token}, e.g. 'https://app.example/${key === 'verifyEmail' ? 'verify' : key === 'resetPassword' ? 'reset' : 'confirm-email'}?token={token}'`)
    }
  }
}

function lifetime (value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 900 || value > 86_400) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`actionTokenTtl.${name}\` must be a whole number of seconds from 900 to 86400 (default ${fallback})`)
  }
  return value
}
