import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core'
import pg from 'pg'
import { BoundedCache } from '../../lib/bounded-cache.ts'
import { describeError } from '../../errors.ts'
import { quotedIdentifier } from '../quoted-identifier.ts'
import type { FoundSession } from '../store.ts'

export const CHANGES_CHANNEL = 'fastify_drizzle_auth_changes'
const RECONNECT_MS = 1000

export interface PgSessionCacheOptions {
  /** The longest an answer is reused, even with no notification (default 1000 ms). */
  maxStalenessMs: number
}

/** The cache of a store on `db` (its own listening connection made with the pool's settings). */
export function sessionCacheFor (db: object, tables: WatchedTables, options: PgSessionCacheOptions): PgSessionCache {
  const pool = (db as { $client: { options?: pg.ClientConfig } }).$client
  return new PgSessionCache(() => new pg.Client(pool.options), tables, options)
}

export interface WatchedTables {
  sessions: PgTable
  users: PgTable
}

/** Where a problem of the listening connection is told (the service hands over its logger). */
export type CacheWarning = (details: { reason: string }, message: string) => void

/** The table as the statements Drizzle builds name it: schema-qualified when it has a schema. */
function qualifiedName (table: PgTable): { qualified: string, name: string } {
  const { schema, name } = getTableConfig(table)
  return { qualified: schema === undefined ? quotedIdentifier(name) : `${quotedIdentifier(schema)}.${quotedIdentifier(name)}`, name }
}

/**
 * The opt-in memory of session lookups on PostgreSQL. Statement-level triggers on the sessions and users
 * tables call `pg_notify` on every update of an answered column, delete or truncate (delivered when the
 * writing transaction commits, whoever wrote); a connection of its own LISTENs, and every notification
 * forgets every answer. While that connection is not listening, nothing is remembered (fail closed), and no
 * answer is reused after `maxStalenessMs`. A lookup that a notification overtook is not remembered.
 */
export class PgSessionCache {
  readonly #connect: () => pg.Client
  readonly #tables: WatchedTables
  #warn: CacheWarning | undefined
  #warned = false
  readonly #maxStalenessMs: number
  readonly #entries = new BoundedCache<string, { found: FoundSession, at: number }>(10_000)
  readonly #stats = { hits: 0, misses: 0 }
  #client: pg.Client | undefined
  #listening = false
  #epoch = 0
  #closed = false
  #starting: Promise<void> | undefined
  #retry: NodeJS.Timeout | undefined
  #notified: Array<() => void> = []
  #notifications = 0

  constructor (connect: () => pg.Client, tables: WatchedTables, options: PgSessionCacheOptions) {
    this.#connect = connect
    this.#tables = tables
    this.#maxStalenessMs = options.maxStalenessMs
  }

  /** True while the listening connection is up: only then is anything remembered. */
  get listening (): boolean {
    return this.#listening
  }

  get stats (): { hits: number, misses: number } {
    return { ...this.#stats }
  }

  /** Notifications received so far. */
  get notifications (): number {
    return this.#notifications
  }

  /** Resolves when the memory is next forgotten: a notification, or the connection lost (tests and the bench wait on it). */
  nextNotification (): Promise<void> {
    return new Promise((resolve) => { this.#notified.push(resolve) })
  }

  /**
   * Tells `warn` when the cache cannot start listening or loses its connection (once per outage, with the
   * reason): it then remembers nothing, so every lookup asks the database until it listens again.
   */
  onWarning (warn: CacheWarning): void {
    this.#warn = warn
  }

  /** Connects, puts the triggers in place and listens; a failure leaves the cache off and retries later. */
  start (): Promise<void> {
    if (this.#listening || this.#closed) return Promise.resolve()
    clearTimeout(this.#retry)
    this.#starting ??= this.#start().finally(() => { this.#starting = undefined })
    return this.#starting
  }

  async lookup (sessionId: string, query: (sessionId: string) => Promise<FoundSession | undefined>): Promise<FoundSession | undefined> {
    const [found] = await this.lookupMany([sessionId], async ([id]) => [await query(id)])
    return found
  }

  /** Answers from memory where it can, and asks `query` once for all the others. */
  async lookupMany (
    sessionIds: readonly string[], query: (sessionIds: readonly string[]) => Promise<Array<FoundSession | undefined>>
  ): Promise<Array<FoundSession | undefined>> {
    const now = Date.now()
    const answers: Array<FoundSession | undefined> = []
    const missing: string[] = []
    const places: number[] = []
    for (let i = 0; i < sessionIds.length; i++) {
      const known = this.#listening ? this.#entries.get(sessionIds[i]) : undefined
      if (known !== undefined && now - known.at <= this.#maxStalenessMs) {
        answers.push(known.found)
      } else {
        answers.push(undefined)
        missing.push(sessionIds[i])
        places.push(i)
      }
    }
    this.#stats.hits += sessionIds.length - missing.length
    this.#stats.misses += missing.length
    if (missing.length === 0) return answers
    const epoch = this.#epoch
    const listening = this.#listening
    const found = await query(missing)
    const remember = listening && this.#listening && epoch === this.#epoch
    for (let j = 0; j < missing.length; j++) {
      answers[places[j]] = found[j]
      if (found[j] !== undefined && remember) this.#entries.set(missing[j], { found: found[j]!, at: now })
    }
    return answers
  }

  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    // A start in flight ends first (it never rejects, and it sees #closed), then the connection goes.
    await this.#starting
    this.#down()
  }

  async #start (): Promise<void> {
    const client = this.#connect()
    this.#client = client
    client.on('notification', () => {
      this.#notifications++
      this.#forget()
    })
    client.on('error', (err: Error) => { this.#lost(client, err) })
    client.on('end', () => { this.#lost(client, new Error('the connection ended')) })
    try {
      await client.connect()
      await client.query('begin')
      // One instance at a time replaces the function and triggers (concurrent replaces would collide).
      await client.query("select pg_advisory_xact_lock(hashtext('fastify-drizzle-auth:notify-triggers'))")
      await client.query(`create or replace function fastify_drizzle_auth_notify() returns trigger language plpgsql as $$
        begin perform pg_notify('${CHANGES_CHANNEL}', ''); return null; end $$`)
      const watched: Array<[PgTable, string]> = [[this.#tables.sessions, 'update of id, user_id, expires_at, revoked_at'], [this.#tables.users, 'update']]
      for (const [table, update] of watched) {
        const { qualified, name } = qualifiedName(table)
        await client.query(`create or replace trigger ${quotedIdentifier(`${name}_fda_notify`)} after ${update} or delete or truncate on ${qualified}
          for each statement execute function fastify_drizzle_auth_notify()`)
      }
      await client.query('commit')
      await client.query(`listen ${CHANGES_CHANNEL}`)
      if (this.#client !== client || this.#closed) return
      this.#forget()
      this.#listening = true
      this.#warned = false
    } catch (err) {
      this.#lost(client, err)
    }
  }

  #forget (): void {
    this.#epoch++
    this.#entries.clear()
    for (const resolve of this.#notified.splice(0)) resolve()
  }

  #lost (client: pg.Client, err: unknown): void {
    if (this.#client !== client) return
    this.#down()
    if (!this.#closed && !this.#warned) {
      this.#warned = true
      const { code, message } = describeError(err)
      const reason = [code, message].filter((part) => part !== undefined).map(String).join(': ')
      this.#warn?.({ reason }, 'fastify-drizzle-auth: the PostgreSQL sessionCache is not listening (every lookup asks the database until it is back)')
    }
    if (!this.#closed) {
      this.#retry = setTimeout(() => { void this.start() }, RECONNECT_MS)
      this.#retry.unref()
    }
  }

  #down (): void {
    this.#listening = false
    this.#forget()
    const client = this.#client
    this.#client = undefined
    client?.end().catch(() => {})
  }
}
