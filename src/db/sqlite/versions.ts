import type Database from 'better-sqlite3'
import { getTableConfig } from 'drizzle-orm/sqlite-core'
import type { VersionSource } from '../remembered-lookup.ts'
import { installChangeTriggers } from './change-triggers.ts'
import { authChanges } from './schema.ts'

/** How often the schema is checked for triggers lost to a table rebuild. */
export const SCHEMA_CHECK_MS = 100

export interface SqliteVersionSource extends VersionSource {
  /** Puts back what a table rebuild removed, when due: a write, so never inside a read transaction. */
  refresh (): void
}

/**
 * The version the change triggers keep (change-triggers.ts): it moves only when an answer can have changed,
 * so the application's writes to its own tables leave the memory alone. Rebuilding a table (a migration's
 * copy-drop-rename) drops its triggers: the schema is looked at every SCHEMA_CHECK_MS, and when it moved the
 * triggers are put back; until that can be done, nothing is trusted.
 */
export class TriggerVersion implements SqliteVersionSource {
  readonly watching = 'triggers'
  readonly #client: Database.Database
  readonly #usersTable: string
  readonly #version: Database.Statement<[], number>
  readonly #schemaVersion: Database.Statement<[], number>
  readonly #now: () => number
  #schema: number
  #checkedAt: number
  #trusted = true

  constructor (client: Database.Database, usersTable: string, now: () => number = Date.now) {
    this.#client = client
    this.#usersTable = usersTable
    this.#now = now
    this.#version = client.prepare<[], number>(`select version from ${getTableConfig(authChanges).name} where id = 1`).pluck(true)
    this.#schemaVersion = client.prepare<[], number>('pragma schema_version').pluck(true)
    this.#schema = this.#schemaVersion.get()!
    this.#checkedAt = now()
  }

  /** Opens with the triggers in place, or returns undefined when they cannot be made (a read-only file, say). */
  static install (client: Database.Database, usersTable: string, now?: () => number): TriggerVersion | undefined {
    return installChangeTriggers(client, usersTable) ? new TriggerVersion(client, usersTable, now) : undefined
  }

  get trusted (): boolean {
    return this.#trusted
  }

  current (): unknown {
    this.refresh()
    return this.#trusted ? this.#version.get() : undefined
  }

  refresh (): void {
    const now = this.#now()
    if (now - this.#checkedAt < SCHEMA_CHECK_MS) return
    this.#checkedAt = now
    // Untrusted (the triggers could not be put back), it tries again at every check.
    if (this.#trusted && this.#schemaVersion.get() === this.#schema) return
    this.#trusted = installChangeTriggers(this.#client, this.#usersTable)
    this.#schema = this.#schemaVersion.get()!
  }
}

/**
 * The fallback where the triggers cannot be made: any commit anywhere moves it, `PRAGMA data_version` for
 * other connections' and `total_changes()` for this one's.
 */
export class CommitCounters implements VersionSource {
  readonly watching = 'commits'
  readonly trusted = true
  readonly #dataVersion: Database.Statement<[], number>
  readonly #totalChanges: Database.Statement<[], number>

  constructor (client: Database.Database) {
    this.#dataVersion = client.prepare<[], number>('pragma data_version').pluck(true)
    this.#totalChanges = client.prepare<[], number>('select total_changes()').pluck(true)
  }

  current (): unknown {
    return `${this.#dataVersion.get()!}:${this.#totalChanges.get()!}`
  }
}
