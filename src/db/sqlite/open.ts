import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type Database from 'better-sqlite3'
import type { drizzle as drizzleOf } from 'drizzle-orm/better-sqlite3'
import { ConfigurationError } from '../../errors.ts'
import { packageRequire } from '../../lib/package-require.ts'
import { startCheckpointer } from './checkpointer.ts'
import type { SqliteDatabase } from './store.ts'

export interface OpenedSqlite {
  dialect: 'sqlite'
  db: SqliteDatabase & { $client: Database.Database }
  /** Closes the connection at once; the promise settles when the background checkpointer (files only) has ended. */
  close: () => Promise<void>
}

// The connection checkpoints by itself only if the background checkpointer stopped or fell this far behind.
export const CHECKPOINT_FALLBACK_PAGES = 10_000

export interface OpenSqliteOptions {
  /** How long a writer waits for another's lock before SQLITE_BUSY (default 5000 ms). */
  busyTimeoutMs?: number
  /**
   * WAL checkpoints on a thread of their own (default true). Off, the connection checkpoints by itself once the
   * WAL holds 10,000 pages: for applications that run their own checkpoints.
   */
  backgroundCheckpoints?: boolean
}

/**
 * The driver, loaded when a database is opened, not when this dialect is imported: an application that only
 * builds its tables from `fastify-drizzle-auth/sqlite` (authUserColumns) needs no better-sqlite3.
 */
function sqliteDriver (): { Driver: typeof Database, drizzle: typeof drizzleOf } {
  try {
    return {
      Driver: packageRequire('better-sqlite3') as typeof Database,
      drizzle: (packageRequire('drizzle-orm/better-sqlite3') as { drizzle: typeof drizzleOf }).drizzle
    }
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes("'better-sqlite3'")) {
      throw new ConfigurationError("fastify-drizzle-auth: this database needs the 'better-sqlite3' package: npm install better-sqlite3")
    }
    throw err
  }
}

/**
 * Switching a new file to WAL upgrades the pragma's own read lock, which SQLite refuses at once (no busy
 * handler: it could deadlock) while another process holds a write lock, as when two processes start together
 * on a new file. So the switch is retried until the busy timeout, and the connection closed if it never succeeds.
 */
function enterWal (client: Database.Database, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      client.pragma('journal_mode = WAL')
      return
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) {
        client.close()
        throw err
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
    }
  }
}

/**
 * Opens an SQLite file (its directory created if missing) or ':memory:' with the settings the token model
 * relies on: WAL so readers never wait for the writer, a busy timeout so concurrent writers queue instead of
 * failing with SQLITE_BUSY, and enforced foreign keys. A file gets a background checkpointer (checkpointer.ts).
 */
export function openSqlite (path: string, { busyTimeoutMs = 5000, backgroundCheckpoints = true }: OpenSqliteOptions = {}): OpenedSqlite {
  const memory = path === ':memory:' || path === ''
  if (!memory) mkdirSync(dirname(path), { recursive: true })
  const { Driver, drizzle } = sqliteDriver()
  const client = new Driver(path)
  client.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`)
  if (!memory) enterWal(client, busyTimeoutMs)
  client.pragma('synchronous = NORMAL')
  client.pragma('foreign_keys = ON')
  // Large tables stay fast: reads through a memory map instead of read() calls, and a 32 MiB page cache.
  client.pragma('mmap_size = 268435456')
  client.pragma('cache_size = -32768')
  const closeClient = async () => { if (client.open) client.close() }
  if (memory) return { dialect: 'sqlite', db: drizzle(client), close: closeClient }
  client.pragma(`wal_autocheckpoint = ${CHECKPOINT_FALLBACK_PAGES}`)
  if (!backgroundCheckpoints) return { dialect: 'sqlite', db: drizzle(client), close: closeClient }
  const checkpointer = startCheckpointer(path)
  return {
    dialect: 'sqlite',
    db: drizzle(client),
    close: async () => {
      await closeClient()
      await checkpointer.stop()
    }
  }
}
