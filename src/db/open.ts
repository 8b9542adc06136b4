import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import type { SqliteDatabase } from './sqlite/store.ts'

export interface OpenedDatabase {
  db: SqliteDatabase & { $client: Database.Database }
  close: () => void
}

/**
 * Opens an SQLite file (its directory created if missing) or ':memory:' with the settings the token model
 * relies on: WAL so readers never wait for the writer, a busy timeout so concurrent writers queue instead of
 * failing with SQLITE_BUSY, and enforced foreign keys.
 */
export function openDatabase (path: string, busyTimeoutMs = 5000): OpenedDatabase {
  const memory = path === ':memory:' || path === ''
  if (!memory) mkdirSync(dirname(path), { recursive: true })
  const client = new Database(path)
  client.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`)
  if (!memory) client.pragma('journal_mode = WAL')
  client.pragma('synchronous = NORMAL')
  client.pragma('foreign_keys = ON')
  return { db: drizzle(client), close: () => { if (client.open) client.close() } }
}
