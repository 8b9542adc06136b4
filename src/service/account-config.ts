import { ConfigurationError } from '../errors.ts'
import type { OptionsResolved } from '../lib/option-schema.ts'
import type { ACCOUNT_OPTIONS, AccountLinks } from './account-schema.ts'
import { defaultTemplates, MAIL_MESSAGE_TYPES, type MailTemplate, type MailTemplates, renderMail } from './mail-messages.ts'

type AccountOptions = OptionsResolved<typeof ACCOUNT_OPTIONS>

export type { AccountConfig, AccountLinks, ActionTokenTtlConfig, MailRateLimitConfig, OutboxConfig } from './account-schema.ts'

export interface ResolvedAccountConfig extends Omit<AccountOptions, 'links' | 'mailTemplates'> {
  links: AccountLinks | undefined
  templates: MailTemplates
}

const LINK_KEYS = ['verifyEmail', 'resetPassword', 'changeEmail'] as const

/** Checks what the account options need of each other; each message says what to set. */
export function resolveAccountConfig (config: AccountOptions): ResolvedAccountConfig {
  const { mailer, mailTemplates, ...rest } = config
  const links = Object.values(config.links).some((link) => link !== undefined) ? checkLinks(config.links) : undefined
  if (mailer !== undefined && links === undefined) {
    throw new ConfigurationError("fastify-drizzle-auth: `links` is missing: with `mailer`, set links: { verifyEmail, resetPassword, changeEmail }, each a URL of your app with {token}, e.g. 'https://app.example/verify?token={token}'")
  }
  if (config.requireVerifiedEmail && mailer === undefined) {
    throw new ConfigurationError('fastify-drizzle-auth: `requireVerifiedEmail` needs `mailer` (and `links`): without one no account could ever receive its verification link, so none could log in')
  }
  return { ...rest, mailer, links, templates: resolveTemplates(mailTemplates ?? {}) }
}

function resolveTemplates (given: Partial<MailTemplates>): MailTemplates {
  const templates = { ...defaultTemplates }
  for (const [type, template] of Object.entries(given)) {
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
  return templates
}

function checkLinks (links: Partial<AccountLinks>): AccountLinks {
  for (const key of LINK_KEYS) {
    const link = links[key]
    let url: URL | undefined
    try { url = new URL(String(link)) } catch {}
    if (typeof link !== 'string' || !link.includes('{token}') || (url?.protocol !== 'https:' && url?.protocol !== 'http:')) {
      throw new ConfigurationError(`fastify-drizzle-auth: \`links.${key}\` must be an http(s) URL of your app's page holding {token}, e.g. 'https://app.example/${key === 'verifyEmail' ? 'verify' : key === 'resetPassword' ? 'reset' : 'confirm-email'}?token={token}'`)
    }
  }
  return links as AccountLinks
}
