import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import type { MailMessage } from './mail-messages.ts'

const VERSION = 'v1'

/**
 * Encrypts outbox messages (AES-256-GCM, a fresh 96-bit IV each, the message id as additional data, so a body
 * cannot be moved to another row). The key is derived from `secret` with HKDF for this one purpose: the
 * outbox never holds a usable link in clear, and a leaked database without the secret reveals none.
 */
export class OutboxSeal {
  readonly #key: Buffer

  constructor (secret: Buffer) {
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'fastify-drizzle-auth', 'outbox message encryption v1', 32))
  }

  seal (id: string, message: MailMessage): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(id))
    const body = Buffer.concat([cipher.update(JSON.stringify(message), 'utf8'), cipher.final()])
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.')
  }

  /** The message, or an Error when the payload was not sealed with this secret for this id (or was altered). */
  open (id: string, payload: string): MailMessage {
    const [version, iv, tag, body] = payload.split('.')
    if (version !== VERSION || body === undefined) throw new Error('outbox message is not in a known sealed format')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'), { authTagLength: 16 })
    decipher.setAAD(Buffer.from(id))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    const clear = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()])
    return JSON.parse(clear.toString('utf8')) as MailMessage
  }
}
