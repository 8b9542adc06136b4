import type { NodePgDatabase } from 'drizzle-orm/node-postgres'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import type { AuthStore, StoreDiagnostics, StoreLogger } from '../store.ts'
import { PgAccountStore } from './accounts.ts'
import { PgActionStore } from './actions.ts'
import type { PgContext } from './context.ts'
import { PgDeviceStore } from './devices.ts'
import { PgLimitStore } from './limits.ts'
import { PgMaintenanceStore } from './maintenance.ts'
import { poolTransactions } from './pool-clients.ts'
import { type authUserColumns, sessions, users } from './schema.ts'
import { type NotifyEpoch, notifyEpochFor } from './notify-epoch.ts'
import { PgSessionLookup } from './session-lookup.ts'
import { PgSessionStore } from './sessions.ts'
import { PgUserStore } from './users.ts'

export type PgDatabase = NodePgDatabase<Record<string, unknown>>

/** Any PostgreSQL table that carries the columns of `authUserColumns()` (and possibly more). */
export type PgUsersTable = PgTable & { [K in keyof ReturnType<typeof authUserColumns>]: PgColumn }

export interface PgAuthStoreOptions {
  /** Applies the plugin's migrations before the first query (retried on the next call if it fails). */
  migrate?: (db: PgDatabase) => Promise<void>
  /** Ends the pool the store was given, when the store owns it. */
  onClose?: () => Promise<void>
  /** Remember session lookups under the notification epoch (notify-epoch.ts), none older than `maxStalenessMs`; off by default. */
  sessionCache?: { maxStalenessMs: number }
}

/**
 * The store on PostgreSQL (node-postgres). Same contract as the SQLite store: every guarded write is one
 * conditional statement, and rotation runs in one transaction, so READ COMMITTED's re-check of the WHERE
 * clause after a concurrent update decides which caller wins.
 */
export class PgAuthStore implements AuthStore<'async'> {
  readonly dialect = 'postgresql'
  readonly mode = 'async'
  readonly users: PgUserStore
  readonly sessions: PgSessionStore
  readonly limits: PgLimitStore
  readonly devices: PgDeviceStore
  readonly actions: PgActionStore
  readonly maintenance: PgMaintenanceStore
  readonly accounts: PgAccountStore
  readonly #db: PgDatabase
  readonly #options: PgAuthStoreOptions
  #ready: Promise<void> | undefined
  readonly #epoch: NotifyEpoch | undefined
  readonly #lookup: PgSessionLookup

  constructor (db: PgDatabase, usersTable: PgUsersTable = users, options: PgAuthStoreOptions = {}) {
    this.#db = db
    this.#options = options
    const table = usersTable as unknown as typeof users
    const transaction = poolTransactions(db)
    const context: PgContext = { db, transaction, users: table, ready: () => this.ready() }
    this.#epoch = options.sessionCache === undefined ? undefined : notifyEpochFor(db, { sessions, users: table })
    const memory = this.#epoch === undefined ? undefined : { epoch: this.#epoch, maxAgeMs: options.sessionCache!.maxStalenessMs }
    this.#lookup = new PgSessionLookup(db, table, memory)
    this.users = new PgUserStore(context)
    this.sessions = new PgSessionStore(context, this.#lookup)
    this.limits = new PgLimitStore(context)
    this.devices = new PgDeviceStore(context)
    this.actions = new PgActionStore(db, transaction, table, context.ready)
    this.maintenance = new PgMaintenanceStore(context)
    this.accounts = new PgAccountStore(context)
  }

  setLogger (log: StoreLogger): void {
    this.#epoch?.onWarning((details, message) => { log.warn(details, message) })
  }

  ready (): Promise<void> {
    // A failed start (database down) is retried by the next call, so the service recovers without a restart.
    this.#ready ??= this.#prepare().catch((err: unknown) => { this.#ready = undefined; throw err })
    return this.#ready
  }

  async #prepare (): Promise<void> {
    await this.#options.migrate?.(this.#db)
    await this.#epoch?.start() // never fails: an epoch that cannot listen stays off and tries again
  }

  /** With `sessionCache`: the remembered lookups' counters and whether it listens. */
  diagnostics (): StoreDiagnostics {
    const sessionLookups = this.#lookup.diagnostics()
    return sessionLookups === undefined ? {} : { sessionLookups }
  }

  /** With `sessionCache`: (re)starts listening now instead of at the next retry; resolves once it listens or failed. */
  async listen (): Promise<void> {
    await this.#epoch?.start()
  }

  async close (): Promise<void> {
    await this.#epoch?.close()
    await this.#options.onClose?.()
  }
}
