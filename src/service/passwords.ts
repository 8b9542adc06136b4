import { randomBytes } from 'node:crypto'
import { InvalidPasswordError } from '../errors.ts'
import { bcryptWorkers } from './bcrypt-workers.ts'
import { BCRYPT_MAX_BYTES, type PasswordContext, type PasswordValidator } from './validators.ts'

/** At most `limit` jobs at once; the others wait their turn, in order. */
class Gate {
  #active = 0
  readonly #waiting: Array<() => void> = []
  readonly #limit: number

  constructor (limit: number) {
    this.#limit = limit
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#active < this.#limit) this.#active++
    else await new Promise<void>((resolve) => this.#waiting.push(resolve))
    try {
      return await job()
    } finally {
      // A finished job hands its slot straight to the next in line.
      const next = this.#waiting.shift()
      if (next === undefined) this.#active--
      else next()
    }
  }
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

  constructor (rounds: number, validators: readonly PasswordValidator[], concurrency: number) {
    this.rounds = rounds
    this.#validators = validators
    this.#gate = new Gate(concurrency)
    bcryptWorkers.reserve(concurrency)
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
    return this.#gate.run(() => bcryptWorkers.hash(password, this.rounds))
  }

  /**
   * Exactly one bcrypt comparison at the configured cost, whatever the input: against the stored hash, or
   * against a dummy hash when there is none, so unknown accounts cost the same as wrong passwords.
   * A password bcrypt would truncate never matches.
   */
  verify (password: string, hash: string | null | undefined): Promise<boolean> {
    return this.#gate.run(() => this.#verifyNow(password, hash))
  }

  /** Runs `job` holding one hashing slot; the `verify` it is given does not queue again. */
  withSlot<T>(job: (verify: (password: string, hash: string | null | undefined) => Promise<boolean>) => Promise<T>): Promise<T> {
    return this.#gate.run(() => job((password, hash) => this.#verifyNow(password, hash)))
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
