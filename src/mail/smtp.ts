import nodemailer from 'nodemailer'
import { ConfigurationError } from '../errors.ts'
import type { Mailer, MailMessage } from '../service/mail-messages.ts'

export interface SmtpMailerOptions {
  /** The sender, e.g. 'Example <no-reply@app.example>' (default: the SMTP user when it is an address, else no-reply@ the SMTP host). */
  from?: string
  /** More nodemailer SMTP transport options (timeouts, TLS, pool, ...). */
  transport?: Readonly<Record<string, unknown>>
}

export interface SmtpMailer extends Mailer {
  readonly from: string
  /** Closes pooled connections. */
  close (): void
}

/** A mailer that sends over SMTP with nodemailer: `smtpMailer('smtp://user:pass@host:587')` (smtps:// for implicit TLS). */
export function smtpMailer (url: string, options: SmtpMailerOptions = {}): SmtpMailer {
  let parsed: URL | undefined
  try { parsed = new URL(url) } catch {}
  if (parsed === undefined || !/^smtps?:$/.test(parsed.protocol)) {
    throw new ConfigurationError("fastify-drizzle-auth: smtpMailer() takes an smtp:// or smtps:// URL, e.g. 'smtp://user:pass@mail.example:587'")
  }
  const user = decodeURIComponent(parsed.username)
  const from = options.from ?? (user.includes('@') ? user : `no-reply@${parsed.hostname}`)
  const transporter = nodemailer.createTransport({ url, ...options.transport } as unknown as Parameters<typeof nodemailer.createTransport>[0])
  return {
    from,
    async send (message: MailMessage) {
      await transporter.sendMail({ from, to: message.to, subject: message.subject, text: message.text, html: message.html })
    },
    close () { transporter.close() }
  }
}
