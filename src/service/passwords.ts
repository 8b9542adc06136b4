import { randomBytes } from 'node:crypto'
import bcrypt from 'bcrypt'
import { InvalidPasswordError } from '../errors.ts'
import { BCRYPT_MAX_BYTES, type PasswordContext, type PasswordValidator } from './validators.ts'

/**
 * bcrypt through its asynchronous API only (the work runs on libuv's pool, never on the event loop).
 * Called as `bcrypt.hash`/`bcrypt.compare` on the module object so tests can count calls.
 */
export class PasswordHasher {
  readonly rounds: number
  readonly #validators: readonly PasswordValidator[]
  #dummyHash: Promise<string> | undefined

  constructor (rounds: number, validators: readonly PasswordValidator[]) {
    this.rounds = rounds
    this.#validators = validators
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
    return bcrypt.hash(password, this.rounds)
  }

  /**
   * Exactly one bcrypt comparison at the configured cost, whatever the input: against the stored hash, or
   * against a dummy hash when there is none, so unknown accounts cost the same as wrong passwords.
   * A password bcrypt would truncate never matches.
   */
  async verify (password: string, hash: string | null | undefined): Promise<boolean> {
    const usable = typeof hash === 'string' && hash.startsWith('$2')
    const matched = await bcrypt.compare(password, usable ? hash : await this.dummyHash())
    return usable && matched && Buffer.byteLength(password, 'utf8') <= BCRYPT_MAX_BYTES
  }

  /** Prepared ahead (the service calls it at start) so the first unknown-email login costs no extra hash. */
  dummyHash (): Promise<string> {
    this.#dummyHash ??= bcrypt.hash(randomBytes(24).toString('base64'), this.rounds)
    return this.#dummyHash
  }
}
