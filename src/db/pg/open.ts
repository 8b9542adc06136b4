import { drizzle } from 'drizzle-orm/node-postgres'
import pg from 'pg'
import type { PgDatabase } from './store.ts'

export interface OpenedPostgres {
  dialect: 'postgresql'
  db: PgDatabase & { $client: pg.Pool }
  close: () => Promise<void>
}

export type PostgresPoolOptions = Omit<pg.PoolConfig, 'connectionString'>

/** A node-postgres pool on `url`; connections are made on demand, so a server that is down now may be up later. */
export function openPostgres (url: string, options: PostgresPoolOptions = {}): OpenedPostgres {
  const pool = new pg.Pool({ connectionTimeoutMillis: 5000, ...options, connectionString: url })
  // An idle client that loses its server emits 'error' on the pool; without a listener that would crash the process.
  pool.on('error', () => {})
  let ended = false
  return {
    dialect: 'postgresql',
    db: drizzle(pool),
    close: async () => { if (!ended) { ended = true; await pool.end() } }
  }
}
