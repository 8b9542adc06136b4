import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import pg from 'pg'
import type { PgDatabase } from './pg/store.ts'
import { startCheckpointer } from './sqlite/checkpointer.ts'
import type { SqliteDatabase } from './sqlite/store.ts'

export interface OpenedSqlite {
  dialect: 'sqlite'
  db: SqliteDatabase & { $client: Database.Database }
  /** Closes the connection at once; the promise settles when the background checkpointer (files only) has ended. */
  close: () => Promise<void>
}

export interface OpenedPostgres {
  dialect: 'postgresql'
  db: PgDatabase & { $client: pg.Pool }
  close: () => Promise<void>
}

// The connection checkpoints by itself only if the background checkpointer stopped or fell this far behind.
const CHECKPOINT_FALLBACK_PAGES = 10_000

export type PostgresPoolOptions = Omit<pg.PoolConfig, 'connectionString'>

export function isPostgresUrl (value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value)
}

/**
 * Opens an SQLite file (its directory created if missing) or ':memory:' with the settings the token model
 * relies on: WAL so readers never wait for the writer, a busy timeout so concurrent writers queue instead of
 * failing with SQLITE_BUSY, and enforced foreign keys. A file gets a background checkpointer (checkpointer.ts).
 */
export function openSqlite (path: string, busyTimeoutMs = 5000): OpenedSqlite {
  const memory = path === ':memory:' || path === ''
  if (!memory) mkdirSync(dirname(path), { recursive: true })
  const client = new Database(path)
  client.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`)
  if (!memory) client.pragma('journal_mode = WAL')
  client.pragma('synchronous = NORMAL')
  client.pragma('foreign_keys = ON')
  // Large tables stay fast: reads through a memory map instead of read() calls, and a 32 MiB page cache.
  client.pragma('mmap_size = 268435456')
  client.pragma('cache_size = -32768')
  if (memory) {
    return { dialect: 'sqlite', db: drizzleSqlite(client), close: async () => { if (client.open) client.close() } }
  }
  client.pragma(`wal_autocheckpoint = ${CHECKPOINT_FALLBACK_PAGES}`)
  const checkpointer = startCheckpointer(path)
  return {
    dialect: 'sqlite',
    db: drizzleSqlite(client),
    close: async () => {
      if (client.open) client.close()
      await checkpointer.stop()
    }
  }
}

/** A node-postgres pool on `url`; connections are made on demand, so a server that is down now may be up later. */
export function openPostgres (url: string, options: PostgresPoolOptions = {}): OpenedPostgres {
  const pool = new pg.Pool({ connectionTimeoutMillis: 5000, ...options, connectionString: url })
  // An idle client that loses its server emits 'error' on the pool; without a listener that would crash the process.
  pool.on('error', () => {})
  let ended = false
  return {
    dialect: 'postgresql',
    db: drizzlePg(pool),
    close: async () => { if (!ended) { ended = true; await pool.end() } }
  }
}

/** Opens a `postgres://` URL as a pool, anything else as an SQLite path. */
export function openDatabase (pathOrUrl: string): OpenedSqlite | OpenedPostgres {
  return isPostgresUrl(pathOrUrl) ? openPostgres(pathOrUrl) : openSqlite(pathOrUrl)
}
