import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

const VERSION = 'v1'

/**
 * AES-256-GCM under a key derived from `secret` with HKDF for one purpose (outbox bodies, kept provider
 * tokens...), a fresh 96-bit IV each, and the owning row's id as additional data, so a sealed value cannot be
 * moved to another row. A leaked database without the secret reveals nothing sealed.
 */
export class Sealer {
  readonly #key: Buffer

  constructor (secret: Buffer, purpose: string) {
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'fastify-drizzle-auth', purpose, 32))
  }

  seal (rowId: string, clear: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(rowId))
    const body = Buffer.concat([cipher.update(clear, 'utf8'), cipher.final()])
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.')
  }

  /** The clear text, or an Error when the value was not sealed with this secret for this row (or was altered). */
  open (rowId: string, sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.')
    if (version !== VERSION || body === undefined) throw new Error('not in a known sealed format')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'), { authTagLength: 16 })
    decipher.setAAD(Buffer.from(rowId))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')
  }
}
