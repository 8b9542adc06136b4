import type { ClaimedOutboxMessage } from '../db/store.ts'
import { describeError } from '../errors.ts'
import { describeMailError } from './mail-error.ts'
import type { ResolvedAccountConfig } from './account-config.ts'
import type { AuthEventEmitter, AuthLogger } from './events.ts'
import type { Mailer, MailMessage } from './mail-messages.ts'
import type { OutboxSeal } from './outbox-seal.ts'
import type { StoreAccess } from './store-access.ts'

const BATCH = 10
const STOPPED = Symbol('stopped')

function stopSignal (): { promise: Promise<typeof STOPPED>, resolve: (value: typeof STOPPED) => void } {
  let resolve!: (value: typeof STOPPED) => void
  const promise = new Promise<typeof STOPPED>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

export interface DeliveryDependencies {
  /** The service's clock (`clock`). */
  clock: () => number
  db: StoreAccess
  seal: OutboxSeal
  mailer: Mailer
  config: ResolvedAccountConfig['outbox']
  events: AuthEventEmitter
  log: AuthLogger
}

/**
 * Sends what the outbox holds: woken right after a request queued a message, and on a timer for retries and
 * for messages a crashed process left behind. A failure waits `retryDelayMs`, doubled at each attempt; after
 * `maxAttempts` the message is dropped with an `email_send_failed` event. A request never waits for any of it.
 */
export class OutboxDelivery {
  readonly #d: DeliveryDependencies
  #timer: NodeJS.Timeout | undefined
  #draining: Promise<void> | undefined
  #again = false
  /** Settles when `stop()` is called: a send still in flight is then left to its lease. */
  #stopped = stopSignal()

  constructor (dependencies: DeliveryDependencies) {
    this.#d = dependencies
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#stopped = stopSignal()
    this.#timer = setInterval(() => { this.wake() }, this.#d.config.pollIntervalMs)
    this.#timer.unref()
    this.wake()
  }

  /** Looks for due messages now (a no-op until started). */
  wake (): void {
    if (this.#timer === undefined) return
    if (this.#draining !== undefined) {
      this.#again = true
      return
    }
    this.#draining = this.#drain().finally(() => { this.#draining = undefined })
  }

  /**
   * Stops the timer and waits for the sends in flight, at most `closeTimeoutMs`: a send still hanging then is
   * given up here, its message stays claimed until its lease runs out and is sent by whoever runs next.
   */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    const { resolve } = this.#stopped
    // Not unref'd: whoever awaits the close is owed its end, also when nothing else keeps the process alive.
    const timer = setTimeout(() => { resolve(STOPPED) }, this.#d.config.closeTimeoutMs)
    await this.#draining
    clearTimeout(timer)
  }

  /** One pass: claims due messages and sends them; returns how many were delivered. */
  async deliverDue (): Promise<number> {
    const { db, config } = this.#d
    const claimed = await db.call((store) => store.actions.claimMessages(BATCH, config.leaseMs, new Date(this.#d.clock())))
    const sent = await Promise.all(claimed.map((row) => this.#deliver(row)))
    return sent.filter(Boolean).length + (claimed.length === BATCH ? await this.deliverDue() : 0)
  }

  async #drain (): Promise<void> {
    do {
      this.#again = false
      try {
        await this.deliverDue()
      } catch (err) {
        this.#d.log.warn({ err: describeError(err) }, 'fastify-drizzle-auth: the outbox could not be read, will try again')
      }
    } while (this.#again && this.#timer !== undefined)
  }

  async #deliver (row: ClaimedOutboxMessage): Promise<boolean> {
    const { db, seal, mailer, config } = this.#d
    let message: MailMessage | undefined
    try {
      message = seal.open(row.id, row.payload)
      const sent = await Promise.race([mailer.send(message), this.#stopped.promise])
      if (sent === STOPPED) return false
    } catch (err) {
      // A body this secret cannot open will never be sent: given up at once.
      const final = message === undefined || row.attempts >= config.maxAttempts
      await this.#failed(row, message, err, final)
      return false
    }
    await db.call((store) => store.actions.deleteMessage(row.id))
    return true
  }

  async #failed (row: ClaimedOutboxMessage, message: MailMessage | undefined, err: unknown, final: boolean): Promise<void> {
    const { db, config, events, log } = this.#d
    const { responseCode, message: error } = describeMailError(err)
    if (!final) {
      const delay = Math.min(config.retryDelayMs * 2 ** (row.attempts - 1), config.maxRetryDelayMs)
      log.warn({ messageId: row.id, attempts: row.attempts, retryInMs: delay, responseCode, error }, 'fastify-drizzle-auth: sending an email failed, will retry')
      await db.call((store) => store.actions.retryMessage(row.id, new Date(this.#d.clock() + delay), error))
      return
    }
    await db.call((store) => store.actions.deleteMessage(row.id))
    log.error({ messageId: row.id, attempts: row.attempts, responseCode, error }, 'fastify-drizzle-auth: an email could not be sent and was given up')
    events.emit('email_send_failed', { messageId: row.id, type: message?.type ?? null, to: message?.to ?? null, attempts: row.attempts, error })
  }
}
