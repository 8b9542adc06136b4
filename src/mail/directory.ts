import { randomBytes } from 'node:crypto'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import nodemailer from 'nodemailer'
import type { Mailer, MailMessage } from '../service/mail-messages.ts'

export interface DirectoryMailerOptions {
  /** The sender written into each message (default 'no-reply@localhost'). */
  from?: string
}

export interface DirectoryMailer extends Mailer {
  readonly directory: string
}

/**
 * For development: each message becomes an `.eml` file in `directory` (open it with any mail program, or read
 * the link in it), never a log line. Files appear whole (written aside, then renamed) and only the owner may read them.
 */
export function directoryMailer (directory: string, options: DirectoryMailerOptions = {}): DirectoryMailer {
  const from = options.from ?? 'no-reply@localhost'
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
  return {
    directory,
    async send (message: MailMessage) {
      const info = await composer.sendMail({ from, to: message.to, subject: message.subject, text: message.text, html: message.html })
      await mkdir(directory, { recursive: true, mode: 0o700 })
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${message.type}-${randomBytes(4).toString('hex')}.eml`
      const aside = join(directory, `.${name}.tmp`)
      await writeFile(aside, info.message as Buffer, { mode: 0o600 })
      await rename(aside, join(directory, name))
    }
  }
}
