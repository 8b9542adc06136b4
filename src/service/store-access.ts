import type { ResolvedConfig } from './config.ts'
import { isConnectionError } from '../db/index.ts'
import { batchTurns, type FindSession, openStore } from '../db/index.ts'
import type { AnyAuthStore } from '../db/store.ts'
import { AuthError, ConfigurationError, describeError, scrubbedCause, ServiceUnavailableError } from '../errors.ts'
import type { AuthLogger } from './events.ts'

/**
 * The service's way to its store: the one it was given, or the one the `database` shortcut opens (its dialect
 * loaded on first use). Every store failure becomes ServiceUnavailableError (503), logged without query
 * parameters: never an answer about a token or a password.
 */
export class StoreAccess {
  #store: AnyAuthStore | undefined
  #lookups: FindSession | undefined
  readonly #opening: Promise<AnyAuthStore> | undefined
  readonly #log: AuthLogger

  constructor (config: ResolvedConfig, log: AuthLogger) {
    this.#log = log
    this.#store = config.store
    config.store?.setLogger?.(log)
    if (config.store === undefined) {
      // resolveConfig guarantees a database whenever no store was given.
      this.#opening = openStore({ ...config.storage, database: config.storage.database! }).then((store) => {
        store.setLogger?.(log)
        return (this.#store = store)
      })
      // Whoever awaits it sees the failure; an unawaited one must not crash the process.
      this.#opening.catch(() => {})
    }
  }

  /** The hot-path lookup of the open store, the lookups of one event-loop turn together where it can (batchTurns). */
  get lookups (): FindSession | undefined {
    if (this.#lookups === undefined && this.#store !== undefined) this.#lookups = batchTurns(this.#store.sessions, this.#store.mode, (err) => this.unavailable(err))
    return this.#lookups
  }

  /** Waits for the store to open; an opening failure is thrown as it is (a bad path, a missing driver). */
  async open (): Promise<AnyAuthStore> {
    return this.#store ?? await this.#opening!
  }

  get store (): AnyAuthStore {
    if (this.#store === undefined) {
      throw new ConfigurationError('fastify-drizzle-auth: the store is still opening: await authService.ready() first')
    }
    return this.#store
  }

  /** Runs `operation` on the store; any failure that is not an AuthError becomes ServiceUnavailableError. */
  async call<T>(operation: (store: AnyAuthStore) => T | Promise<T>): Promise<T> {
    try {
      return await operation(this.#store ?? await this.#opening!)
    } catch (err) {
      throw this.unavailable(err)
    }
  }

  unavailable (err: unknown): AuthError {
    if (err instanceof AuthError) return err
    this.#log.error({ err: describeError(err) }, 'fastify-drizzle-auth: the store failed')
    return new ServiceUnavailableError(scrubbedCause(err), isConnectionError(err))
  }

  async close (): Promise<void> {
    const store = this.#store ?? await this.#opening?.catch(() => undefined)
    await store?.close()
  }
}
