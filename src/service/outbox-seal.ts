import { Sealer } from '../lib/sealer.ts'
import type { MailMessage } from './mail-messages.ts'

/**
 * Encrypts outbox messages (see Sealer; the message id is the additional data): the outbox never holds a
 * usable link in clear.
 */
export class OutboxSeal {
  readonly #sealer: Sealer

  constructor (secret: Buffer) {
    this.#sealer = new Sealer(secret, 'outbox message encryption v1')
  }

  seal (id: string, message: MailMessage): string {
    return this.#sealer.seal(id, JSON.stringify(message))
  }

  /** The message, or an Error when the payload was not sealed with this secret for this id (or was altered). */
  open (id: string, payload: string): MailMessage {
    return JSON.parse(this.#sealer.open(id, payload)) as MailMessage
  }
}
