import { randomBytes } from 'node:crypto'
import { BusyError, InvalidPasswordError } from '../errors.ts'
import { bcryptWorkers } from './bcrypt-workers.ts'
import { BCRYPT_MAX_BYTES, type PasswordContext, type PasswordValidator } from './validators.ts'

export type HashPriority = 'login' | 'other'

export interface HashQueueState {
  /** Jobs holding a hashing slot. */
  running: number
  /** Logins waiting for a slot (served first). */
  waitingLogins: number
  /** Registrations and password changes waiting for a slot. */
  waitingOthers: number
}

/**
 * At most `limit` jobs at once. Waiting logins go before every other waiting job (a priority, not a second
 * pool); a job that finds `maxWaiting` ahead of it is refused at once with BusyError (a login counts only
 * the logins ahead of it, so a flood of registrations cannot shut logins out).
 */
class Gate {
  #running = 0
  readonly #logins: Array<() => void> = []
  readonly #others: Array<() => void> = []
  readonly #limit: number
  readonly #maxWaiting: number

  constructor (limit: number, maxWaiting: number) {
    this.#limit = limit
    this.#maxWaiting = maxWaiting
  }

  get state (): HashQueueState {
    return { running: this.#running, waitingLogins: this.#logins.length, waitingOthers: this.#others.length }
  }

  async run<T>(job: () => Promise<T>, priority: HashPriority): Promise<T> {
    if (this.#running < this.#limit) {
      this.#running++
    } else {
      const ahead = priority === 'login' ? this.#logins.length : this.#logins.length + this.#others.length
      if (ahead >= this.#maxWaiting) throw new BusyError()
      await new Promise<void>((resolve) => (priority === 'login' ? this.#logins : this.#others).push(resolve))
    }
    try {
      return await job()
    } finally {
      // A finished job hands its slot straight to the next in line.
      const next = this.#logins.shift() ?? this.#others.shift()
      if (next === undefined) this.#running--
      else next()
    }
  }
}

/** What a job holding a slot may do without queueing again. */
export interface Slot {
  verify (password: string, hash: string | null | undefined): Promise<boolean>
  hash (password: string): Promise<string>
}

/**
 * bcrypt off the event loop, on low-priority threads of its own (bcrypt-workers.ts), and at most `concurrency`
 * hashes at once (default: one per CPU, at most 4), so a burst of logins queues instead of starving the event
 * loop of CPU. Called as `bcryptWorkers.hash`/`.compare` on the shared object so tests can count calls.
 */
export class PasswordHasher {
  readonly rounds: number
  readonly #validators: readonly PasswordValidator[]
  readonly #gate: Gate
  #dummyHash: Promise<string> | undefined

  constructor (rounds: number, validators: readonly PasswordValidator[], concurrency: number, maxWaiting = 64) {
    this.rounds = rounds
    this.#validators = validators
    this.#gate = new Gate(concurrency, maxWaiting)
    bcryptWorkers.reserve(concurrency)
  }

  /** The hashing queue as it stands. */
  get queue (): HashQueueState {
    return this.#gate.state
  }

  /** Runs every validator and raises one InvalidPasswordError listing every failure. */
  validate (password: string, context: PasswordContext = {}): void {
    if (Buffer.byteLength(password, 'utf8') > BCRYPT_MAX_BYTES) {
      throw new InvalidPasswordError(
        [`Password must be at most ${BCRYPT_MAX_BYTES} bytes in UTF-8 (bcrypt ignores anything longer)`],
        'password_too_long'
      )
    }
    const errors: string[] = []
    for (const validator of this.#validators) {
      const message = validator(password, context)
      if (typeof message === 'string' && message !== '') errors.push(message)
    }
    if (errors.length > 0) throw new InvalidPasswordError(errors)
  }

  hash (password: string): Promise<string> {
    return this.#gate.run(() => bcryptWorkers.hash(password, this.rounds), 'other')
  }

  /** True when `hash` is a bcrypt hash of another cost than the configured one. */
  needsRehash (hash: string): boolean {
    const cost = /^\$2[abxy]?\$(\d{2})\$/.exec(hash)?.[1]
    return cost !== undefined && Number(cost) !== this.rounds
  }

  /**
   * Exactly one bcrypt comparison at the configured cost, whatever the input: against the stored hash, or
   * against a dummy hash when there is none, so unknown accounts cost the same as wrong passwords.
   * A password bcrypt would truncate never matches.
   */
  verify (password: string, hash: string | null | undefined): Promise<boolean> {
    return this.#gate.run(() => this.#verifyNow(password, hash), 'other')
  }

  /** Runs `job` holding one hashing slot; what the slot gives it does not queue again. */
  withSlot<T>(priority: HashPriority, job: (slot: Slot) => Promise<T>): Promise<T> {
    return this.#gate.run(() => job({
      verify: (password, hash) => this.#verifyNow(password, hash),
      hash: (password) => bcryptWorkers.hash(password, this.rounds)
    }), priority)
  }

  async #verifyNow (password: string, hash: string | null | undefined): Promise<boolean> {
    const usable = typeof hash === 'string' && hash.startsWith('$2')
    const matched = await bcryptWorkers.compare(password, usable ? hash : await this.dummyHash())
    return usable && matched && Buffer.byteLength(password, 'utf8') <= BCRYPT_MAX_BYTES
  }

  /** Prepared ahead (the service calls it at start) so the first unknown-email login costs no extra hash. */
  dummyHash (): Promise<string> {
    this.#dummyHash ??= bcryptWorkers.hash(randomBytes(24).toString('base64'), this.rounds)
    return this.#dummyHash
  }
}
