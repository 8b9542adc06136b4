/** The messages the account flows send, as a typed union, and the templates that write them. */
import { ConfigurationError } from '../errors.ts'

interface MessageBase {
  /** The recipient's address. */
  to: string
  subject: string
  text: string
  html: string
}

export type MailMessage =
  | MessageBase & { type: 'verify_email', link: string }
  | MessageBase & { type: 'reset_password', link: string }
  | MessageBase & { type: 'change_email_confirm', link: string, newEmail: string }
  | MessageBase & { type: 'change_email_notice', newEmail: string }
  | MessageBase & { type: 'password_changed' }

export type MailMessageType = MailMessage['type']

export const MAIL_MESSAGE_TYPES: readonly MailMessageType[] = [
  'verify_email', 'reset_password', 'change_email_confirm', 'change_email_notice', 'password_changed'
]

/** What a template is given: the recipient, and the link or new address where the message has one. */
export interface MailTemplateContext {
  to: string
  link?: string
  newEmail?: string
}

export interface RenderedMail {
  subject: string
  text: string
  html: string
}

export type MailTemplate = (context: MailTemplateContext) => RenderedMail
export type MailTemplates = Record<MailMessageType, MailTemplate>

/** Delivers one message; a rejection (or throw) is retried by the outbox with backoff. */
export interface Mailer {
  send (message: MailMessage): Promise<unknown> | unknown
}

function escapeHtml (value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function page (paragraphs: string[], link?: { href: string, label: string }): string {
  const body = paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`)
  if (link !== undefined) body.splice(1, 0, `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>`)
  return `<!doctype html><html><body>${body.join('')}</body></html>`
}

const IGNORE = 'If you did not ask for this, you can ignore this message.'

export const defaultTemplates: MailTemplates = {
  verify_email: ({ link = '' }) => ({
    subject: 'Confirm your email address',
    text: `Confirm your email address by opening this link:\n\n${link}\n\n${IGNORE}\n`,
    html: page(['Confirm your email address by opening this link:', IGNORE], { href: link, label: 'Confirm my address' })
  }),
  reset_password: ({ link = '' }) => ({
    subject: 'Reset your password',
    text: `Choose a new password by opening this link (it works once, for a limited time):\n\n${link}\n\n${IGNORE}\n`,
    html: page(['Choose a new password by opening this link (it works once, for a limited time):', IGNORE], { href: link, label: 'Choose a new password' })
  }),
  change_email_confirm: ({ link = '', newEmail = '' }) => ({
    subject: 'Confirm your new email address',
    text: `Confirm ${newEmail} as the new address of your account by opening this link:\n\n${link}\n\n${IGNORE}\n`,
    html: page([`Confirm ${newEmail} as the new address of your account by opening this link:`, IGNORE], { href: link, label: 'Confirm the new address' })
  }),
  change_email_notice: ({ newEmail = '' }) => ({
    subject: 'Your email address was changed',
    text: `The email address of your account was changed to ${newEmail}. If this was not you, contact support at once.\n`,
    html: page([`The email address of your account was changed to ${newEmail}. If this was not you, contact support at once.`])
  }),
  password_changed: () => ({
    subject: 'Your password was changed',
    text: 'The password of your account was changed and every session was signed out. If this was not you, reset your password at once.\n',
    html: page(['The password of your account was changed and every session was signed out. If this was not you, reset your password at once.'])
  })
}

/** Builds the message of `type` with the application's template for it (or the default one). */
export function renderMail<T extends MailMessageType> (
  templates: MailTemplates, type: T, context: MailTemplateContext
): Extract<MailMessage, { type: T }> {
  const rendered = templates[type](context)
  if (typeof rendered?.subject !== 'string' || typeof rendered.text !== 'string' || typeof rendered.html !== 'string') {
    throw new ConfigurationError(`fastify-drizzle-auth: the \`mailTemplates.${type}\` template must return { subject, text, html } strings`)
  }
  const extra: Record<string, string> = {}
  if (context.link !== undefined) extra.link = context.link
  if (context.newEmail !== undefined) extra.newEmail = context.newEmail
  return { type, to: context.to, subject: rendered.subject, text: rendered.text, html: rendered.html, ...extra } as Extract<MailMessage, { type: T }>
}
