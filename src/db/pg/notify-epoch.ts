import pg from 'pg'
import { describeError } from '../../errors.ts'
import { forgotten, type VersionSource } from '../remembered-lookup.ts'
import { CHANGES_CHANNEL, notifyTriggerStatements, type WatchedTables } from './notify-triggers.ts'

const RECONNECT_MS = 1000

/** Where a problem of the listening connection is told (the service hands over its logger). */
export type CacheWarning = (details: { reason: string }, message: string) => void

/** The epoch of a store on `db` (its own listening connection made with the pool's settings). */
export function notifyEpochFor (db: object, tables: WatchedTables): NotifyEpoch {
  const pool = (db as { $client: { options?: pg.ClientConfig } }).$client
  return new NotifyEpoch(() => new pg.Client(pool.options), tables)
}

/**
 * The version source of the opt-in memory on PostgreSQL: an epoch that moves on every notification of the
 * change triggers (notify-triggers.ts), received on a connection of its own that LISTENs. While that
 * connection is not listening the version is undefined, so nothing is remembered (fail closed); coming back,
 * it moves, so nothing remembered before is used again.
 */
export class NotifyEpoch implements VersionSource {
  readonly watching = 'notifications'
  readonly #connect: () => pg.Client
  readonly #tables: WatchedTables
  #warn: CacheWarning | undefined
  #warned = false
  #client: pg.Client | undefined
  #listening = false
  #epoch = 0
  #closed = false
  #starting: Promise<void> | undefined
  #retry: NodeJS.Timeout | undefined
  #notifications = 0

  constructor (connect: () => pg.Client, tables: WatchedTables) {
    this.#connect = connect
    this.#tables = tables
  }

  current (): unknown {
    return this.#listening ? this.#epoch : undefined
  }

  get trusted (): boolean {
    return this.#listening
  }

  diagnostics (): { trusted: boolean, notifications: number } {
    return { trusted: this.trusted, notifications: this.#notifications }
  }

  /**
   * Tells `warn` when it cannot start listening or loses its connection (once per outage, with the reason):
   * nothing is remembered then, so every lookup asks the database until it listens again.
   */
  onWarning (warn: CacheWarning): void {
    this.#warn = warn
  }

  /** Connects, puts the triggers in place and listens; a failure leaves it off and retries later. */
  start (): Promise<void> {
    if (this.#listening || this.#closed) return Promise.resolve()
    clearTimeout(this.#retry)
    this.#starting ??= this.#start().finally(() => { this.#starting = undefined })
    return this.#starting
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
      this.#move('notification')
    })
    client.on('error', (err: Error) => { this.#lost(client, err) })
    client.on('end', () => { this.#lost(client, new Error('the connection ended')) })
    try {
      await client.connect()
      await client.query('begin')
      // One instance at a time replaces the function and triggers (concurrent replaces would collide).
      await client.query("select pg_advisory_xact_lock(hashtext('fastify-drizzle-auth:notify-triggers'))")
      for (const statement of notifyTriggerStatements(this.#tables)) await client.query(statement)
      await client.query('commit')
      await client.query(`listen ${CHANGES_CHANNEL}`)
      if (this.#client !== client || this.#closed) return
      this.#move('listening')
      this.#listening = true
      this.#warned = false
    } catch (err) {
      this.#lost(client, err)
    }
  }

  #move (reason: string): void {
    this.#epoch++
    forgotten(reason)
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
    this.#move('connection lost')
    const client = this.#client
    this.#client = undefined
    client?.end().catch(() => {})
  }
}
