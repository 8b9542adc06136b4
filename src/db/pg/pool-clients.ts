import { drizzle } from 'drizzle-orm/node-postgres'
import type pg from 'pg'
import type { PgDatabase } from './store.ts'

export type PgTransaction = Parameters<Parameters<PgDatabase['transaction']>[0]>[0]
/** Runs `work` in one transaction on one connection (BEGIN ... COMMIT, ROLLBACK on any error). */
export type PgTransactionRunner = <T>(work: (tx: PgTransaction) => Promise<T>) => Promise<T>

const guarded = new WeakSet<object>()
const ignore = (): void => {}

/**
 * Makes a lost server connection (a failover, a restart, `pg_terminate_backend`, a network reset) an error of
 * the statement in flight, never of the process, for every client `db`'s pool hands out (the application's
 * own pool too, when it gave us its database).
 * - node-postgres listens to a pool client's 'error' only while it is idle: a client checked out when its
 *   connection drops would emit 'error' to nobody, which ends the process. Each client gets a listener once.
 * - Drizzle's transaction on a pool sends BEGIN before its try block, so a BEGIN that fails never gives its
 *   client back, and enough outages leave a pool of dead, checked-out clients. Transactions here check the
 *   client out themselves and always give it back (the pool drops a client whose connection is gone).
 */
export function poolTransactions (db: PgDatabase): PgTransactionRunner {
  const pool = (db as { $client?: unknown }).$client
  if (!isPool(pool)) return async (work) => db.transaction(work)
  // One listener a pool, however many stores share it.
  if (!guarded.has(pool)) {
    guarded.add(pool)
    pool.on('acquire', (client: pg.PoolClient) => {
      // A client is handed out many times: it gets its listener once.
      if (guarded.has(client)) return
      guarded.add(client)
      client.on('error', ignore)
    })
  }
  return async (work) => {
    const client = await pool.connect()
    try {
      return await (drizzle(client) as unknown as PgDatabase).transaction(work)
    } finally {
      client.release()
    }
  }
}

function isPool (value: unknown): value is pg.Pool {
  const pool = value as { on?: unknown, connect?: unknown, totalCount?: unknown } | null
  return typeof pool?.on === 'function' && typeof pool.connect === 'function' && typeof pool.totalCount === 'number'
}
