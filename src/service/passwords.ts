import { randomBytes } from 'node:crypto'
import { BusyError, InvalidPasswordError } from '../errors.ts'
import { bcryptWorkers, type HashThreads } from './bcrypt-workers.ts'
import { BCRYPT_MAX_BYTES, type PasswordContext, type PasswordValidator } from './validators.ts'

/** `device`: a login with a live device token of its account; `login`: any other login; `other`: the rest. */
export type HashPriority = 'device' | 'login' | 'other'

export interface HashQueueState {
  /** Jobs holding a hashing slot. */
  running: number
  /** Logins from known devices waiting for a slot (served first). */
  waitingDevices: number
  /** Other logins waiting for a slot (served next). */
  waitingLogins: number
  /** Registrations and password changes waiting for a slot. */
  waitingOthers: number
}

/**
 * Places (running or waiting) one client address may hold once its lane is half full: a flood then needs
 * many addresses, while a quiet server still lets many people behind one NAT address log in at once.
 */
export const MAX_PLACES_PER_ADDRESS = 4

/**
 * At most `limit` jobs at once. Waiting jobs are served by lane: known devices, then other logins, then the
 * rest (a priority, not a second pool). A job that finds `maxWaiting` of its own lane and those before it
 * waiting is refused at once with BusyError, so a flood of registrations cannot shut logins out and a flood
 * of anonymous logins cannot shut known devices out. Once half of those waiting places are taken, a job that
 * names its client address is refused too when that address already holds MAX_PLACES_PER_ADDRESS places.
 */
class Gate {
  #running = 0
  readonly #lanes: Record<HashPriority, Array<() => void>> = { device: [], login: [], other: [] }
  readonly #places = new Map<string, number>()
  readonly #limit: number
  readonly #maxWaiting: number

  constructor (limit: number, maxWaiting: number) {
    this.#limit = limit
    this.#maxWaiting = maxWaiting
  }

  get state (): HashQueueState {
    const { device, login, other } = this.#lanes
    return { running: this.#running, waitingDevices: device.length, waitingLogins: login.length, waitingOthers: other.length }
  }

  async run<T>(job: () => Promise<T>, priority: HashPriority, address?: string): Promise<T> {
    const held = address === undefined ? 0 : this.#places.get(address) ?? 0
    if (held >= MAX_PLACES_PER_ADDRESS && this.#ahead(priority) * 2 >= this.#maxWaiting) throw new BusyError()
    if (this.#running < this.#limit) {
      this.#running++
      this.#hold(address, 1)
    } else {
      if (this.#ahead(priority) >= this.#maxWaiting) throw new BusyError()
      this.#hold(address, 1)
      await new Promise<void>((resolve) => this.#lanes[priority].push(resolve))
    }
    try {
      return await job()
    } finally {
      this.#hold(address, -1)
      // A finished job hands its slot straight to the next in line.
      const next = this.#lanes.device.shift() ?? this.#lanes.login.shift() ?? this.#lanes.other.shift()
      if (next === undefined) this.#running--
      else next()
    }
  }

  #ahead (priority: HashPriority): number {
    const { device, login, other } = this.#lanes
    if (priority === 'device') return device.length
    return priority === 'login' ? device.length + login.length : device.length + login.length + other.length
  }

  #hold (address: string | undefined, change: number): void {
    if (address === undefined) return
    const places = (this.#places.get(address) ?? 0) + change
    if (places === 0) this.#places.delete(address)
    else this.#places.set(address, places)
  }
}

/** What a job holding a slot may do without queueing again. */
export interface Slot {
  verify (password: string, hash: string | null | undefined): Promise<boolean>
  hash (password: string): Promise<string>
}

/**
 * bcrypt off the event loop, on threads of its own at the priority `hashThreads` asks (bcrypt-workers.ts), and at most `concurrency`
 * hashes at once (default: one per CPU, at most 4), so a burst of logins queues instead of starving the event
 * loop of CPU. Called as `bcryptWorkers.hash`/`.compare` on the shared object so tests can count calls.
 */
export class PasswordHasher {
  readonly rounds: number
  readonly #validators: readonly PasswordValidator[]
  readonly #gate: Gate
  readonly #threads: HashThreads
  #dummyHash: Promise<string> | undefined

  constructor (rounds: number, validators: readonly PasswordValidator[], concurrency: number, maxWaiting = 64, threads: HashThreads = 'normal') {
    this.rounds = rounds
    this.#threads = threads
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

  /** `address`: the client's rate-limit key, holding at most MAX_PLACES_PER_ADDRESS places. */
  hash (password: string, address?: string): Promise<string> {
    return this.#gate.run(() => bcryptWorkers.hash(password, this.rounds, this.#threads), 'other', address)
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
  withSlot<T>(priority: HashPriority, job: (slot: Slot) => Promise<T>, address?: string): Promise<T> {
    return this.#gate.run(() => job({
      verify: (password, hash) => this.#verifyNow(password, hash),
      hash: (password) => bcryptWorkers.hash(password, this.rounds, this.#threads)
    }), priority, address)
  }

  async #verifyNow (password: string, hash: string | null | undefined): Promise<boolean> {
    const usable = typeof hash === 'string' && hash.startsWith('$2')
    const matched = await bcryptWorkers.compare(password, usable ? hash : await this.dummyHash(), this.#threads)
    return usable && matched && Buffer.byteLength(password, 'utf8') <= BCRYPT_MAX_BYTES
  }

  /** Prepared ahead (the service calls it at start) so the first unknown-email login costs no extra hash. */
  dummyHash (): Promise<string> {
    this.#dummyHash ??= bcryptWorkers.hash(randomBytes(24).toString('base64'), this.rounds, this.#threads)
    return this.#dummyHash
  }
}
