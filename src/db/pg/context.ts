import type { PgTransactionRunner } from './pool-clients.ts'
import type { users } from './schema.ts'
import type { PgDatabase } from './store.ts'

/** What every facet of the PostgreSQL store works with. */
export interface PgContext {
  readonly db: PgDatabase
  readonly transaction: PgTransactionRunner
  readonly users: typeof users
  /** Resolves once the migrations ran (each facet waits for it before its first statement). */
  readonly ready: () => Promise<void>
}
