import { eq, getTableColumns, sql } from 'drizzle-orm'
import { answeredSessionColumns } from '../answered-columns.ts'
import { toFoundSession } from '../found-session.ts'
import type { FoundSession, SessionLookupDiagnostics } from '../records.ts'
import { RememberedLookup } from '../remembered-lookup.ts'
import type { NotifyEpoch } from './notify-epoch.ts'
import { sessions, type users } from './schema.ts'
import type { PgDatabase } from './store.ts'

interface ArrayQuery {
  query (config: { name: string, text: string, values: unknown[], rowMode: 'array' }): Promise<{ rows: unknown[][] }>
}

/** The opt-in memory: remembered under the notification epoch, no answer older than `maxAgeMs`. */
export interface PgLookupMemory {
  epoch: NotifyEpoch
  maxAgeMs: number
}

/**
 * The hot-path lookup on PostgreSQL: the SQL built by Drizzle from the table objects, run straight through
 * node-postgres as one named prepared statement (parsed once per connection) returning arrays, each value
 * mapped by its column's own driver mapping; several lookups in one statement (`= any($1)`). With the memory,
 * what it holds under the current epoch is answered without a statement, and an answer whose epoch moved
 * while it was looked up is not kept.
 */
export class PgSessionLookup {
  readonly #client: ArrayQuery
  readonly #text: string
  readonly #columns: ReturnType<typeof Object.entries<ReturnType<typeof getTableColumns>[string]>>
  readonly #epoch: NotifyEpoch | undefined
  readonly #memory: RememberedLookup | undefined

  constructor (db: PgDatabase, usersTable: typeof users, memory?: PgLookupMemory) {
    const { passwordHash: _hash, ...userColumns } = getTableColumns(usersTable)
    this.#columns = Object.entries(userColumns)
    this.#text = db.select({ sessionId: sessions.id, ...answeredSessionColumns(sessions), ...userColumns }).from(sessions)
      .innerJoin(usersTable, eq(usersTable.id, sessions.userId))
      .where(sql`${sessions.id} = any(${sql.placeholder('sids')}::text[])`)
      .toSQL().sql
    this.#client = (db as unknown as { $client: ArrayQuery }).$client
    this.#epoch = memory?.epoch
    this.#memory = memory === undefined ? undefined : new RememberedLookup({ maxAgeMs: memory.maxAgeMs })
  }

  async find (sessionId: string): Promise<FoundSession | undefined> {
    const [found] = await this.findMany([sessionId])
    return found
  }

  /** Answered in the order asked; duplicates and unknown ids included. */
  async findMany (sessionIds: readonly string[]): Promise<Array<FoundSession | undefined>> {
    const memory = this.#memory
    if (memory === undefined) return this.#query(sessionIds)
    const version = this.#epoch!.current()
    const answers = sessionIds.map((id) => memory.recall(id, version))
    const missing = sessionIds.filter((_, i) => answers[i] === undefined)
    if (missing.length === 0) return answers
    const found = await this.#query(missing)
    // A notification during the statement moved the epoch: what it answered is used, not kept.
    const keep = this.#epoch!.current() === version
    for (let i = 0, j = 0; i < answers.length; i++) {
      if (answers[i] !== undefined) continue
      answers[i] = found[j]
      if (keep) memory.remember(missing[j], found[j], version)
      j++
    }
    return answers
  }

  diagnostics (): SessionLookupDiagnostics | undefined {
    if (this.#memory === undefined) return undefined
    return { ...this.#memory.diagnostics(), watching: 'notifications', ...this.#epoch!.diagnostics() }
  }

  async #query (sessionIds: readonly string[]): Promise<Array<FoundSession | undefined>> {
    const unique = [...new Set(sessionIds)]
    const { rows } = await this.#client.query({ name: 'fastify_drizzle_auth_find_sessions', text: this.#text, values: [unique], rowMode: 'array' })
    const found = new Map<string, FoundSession>()
    for (const row of rows) found.set(row[0] as string, toFoundSession(row[0] as string, row, 1, this.#columns, sessions.expiresAt, sessions.revokedAt))
    return sessionIds.map((id) => found.get(id))
  }
}
