import type { FoundSession, ModeResult, SessionStore, StoreMode } from './store.ts'

/**
 * The dialect stores' own way of answering several lookups at once (one read transaction on SQLite, one
 * statement on PostgreSQL), each answer what `find` would give, in the order asked. Not part of the contract:
 * `batchTurns` finds it under this key.
 */
export const findMany = Symbol('findMany')

export interface ManyLookups<M extends StoreMode = StoreMode> {
  [findMany]: (sessionIds: readonly string[]) => ModeResult<M, Array<FoundSession | undefined>>
}

/** Statements in flight on an asynchronous store; lookups gathered meanwhile wait for one to end. */
const MAX_BATCHES_IN_FLIGHT = 2
/** A statement in flight longer than this no longer holds the others back (a stuck connection must not stall every request). */
export const SLOW_BATCH_MS = 100

/** The hot-path lookup as the service sees it. */
export type FindSession = Pick<SessionStore, 'find'>

interface Waiting {
  sessionId: string
  resolve: (found: FoundSession | undefined) => void
  reject: (err: unknown) => void
}

/**
 * The lookups of one event-loop turn, answered together: `find` gathers them, and after the turn's requests
 * have arrived (so never from an older snapshot than a lookup of its own would see) asks `[findMany]` once. On
 * an asynchronous store, while two such statements are in flight the next waits for one to end (or for one
 * to have taken SLOW_BATCH_MS), so a busy server sends fewer, larger ones. A failed statement's error goes
 * through `convert` once for all its lookups. A store without `[findMany]` is returned as it is.
 */
export function batchTurns (sessions: SessionStore, mode: StoreMode, convert: (err: unknown) => unknown): FindSession {
  const many = (sessions as Partial<ManyLookups>)[findMany]
  return many === undefined ? sessions : new TurnBatch(many.bind(sessions), mode, convert)
}

class TurnBatch implements FindSession {
  readonly #many: ManyLookups[typeof findMany]
  readonly #mode: StoreMode
  readonly #convert: (err: unknown) => unknown
  #waiting: Waiting[] = []
  #scheduled = false
  #inFlight = 0

  constructor (many: ManyLookups[typeof findMany], mode: StoreMode, convert: (err: unknown) => unknown) {
    this.#many = many
    this.#mode = mode
    this.#convert = convert
  }

  find (sessionId: string): Promise<FoundSession | undefined> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ sessionId, resolve, reject })
      this.#schedule()
    })
  }

  #schedule (): void {
    if (this.#scheduled || this.#waiting.length === 0 || this.#inFlight >= MAX_BATCHES_IN_FLIGHT) return
    this.#scheduled = true
    setImmediate(this.#lookUpWaiting)
  }

  readonly #lookUpWaiting = (): void => {
    this.#scheduled = false
    const waiting = this.#waiting
    this.#waiting = []
    let answer: ReturnType<ManyLookups[typeof findMany]>
    try {
      answer = this.#many(waiting.map((w) => w.sessionId))
    } catch (err) {
      return fail(waiting, this.#convert(err))
    }
    if (this.#mode === 'sync') return settle(waiting, answer as Array<FoundSession | undefined>)
    const ended = this.#inFlightUntilEnded()
    Promise.resolve(answer).then((found) => { ended(); settle(waiting, found) }, (err: unknown) => { ended(); fail(waiting, this.#convert(err)) })
  }

  /** Counts a statement in flight; the function returned ends it (at most once), as does SLOW_BATCH_MS. */
  #inFlightUntilEnded (): () => void {
    this.#inFlight++
    let released = false
    const ended = (): void => {
      if (released) return
      released = true
      clearTimeout(slow)
      this.#inFlight--
      this.#schedule()
    }
    const slow = setTimeout(ended, SLOW_BATCH_MS)
    return ended
  }
}

function settle (waiting: Waiting[], found: Array<FoundSession | undefined>): void {
  for (let i = 0; i < waiting.length; i++) waiting[i].resolve(found[i])
}

/** One failed statement fails every lookup it answered, with one error, converted once (so logged once). */
function fail (waiting: Waiting[], err: unknown): void {
  for (const w of waiting) w.reject(err)
}
