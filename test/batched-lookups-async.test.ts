/**
 * On an asynchronous store, lookups gathered while statements are in flight wait for one of them to
 * end (at most two at once), so a busy server sends fewer, larger statements; every request is still answered.
 */
import t, { type Test } from 'tap'
import { AuthService } from '../src/index.ts'
import type { FoundSession } from '../src/index.ts'
import { sqliteStore } from '../src/db/sqlite/index.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'
import { CountingStore } from './fixtures/counting-store.ts'
import { findMany } from '../src/db/turn-batch.ts'

/** The application's own asynchronous store, answering several lookups at once, held until the test lets go. */
class GatedStore extends CountingStore {
  readonly batches: string[][] = []
  readonly #held: Array<() => void> = []
  #asked: Array<() => void> = []
  readonly #inner

  constructor (inner: ReturnType<typeof sqliteStore>) {
    super(inner)
    this.#inner = inner
    this.override('sessions', 'findMany', async (sessionIds: readonly string[]) => this.#findMany(sessionIds))
  }

  async #findMany (sessionIds: readonly string[]): Promise<Array<FoundSession | undefined>> {
    this.batches.push([...sessionIds])
    for (const resolve of this.#asked.splice(0)) resolve()
    await new Promise<void>((resolve) => { this.#held.push(resolve) })
    return this.#inner.sessions[findMany](sessionIds)
  }

  /** Resolves once `count` batches have been asked for in all. */
  async asked (count: number): Promise<void> {
    while (this.batches.length < count) await new Promise<void>((resolve) => { this.#asked.push(resolve) })
  }

  letGo (): void {
    for (const resolve of this.#held.splice(0)) resolve()
  }
}

/** Lets every immediate queued so far run (the verifier gathers a turn's lookups in one). */
async function nextTurn (): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
}

/** A service on `store` with one user logged in `count` times: the access tokens, in order. */
async function loggedIn (t: Test, store: CountingStore, email: string, count: number) {
  const service = new AuthService({ store, secret: SECRET, bcryptRounds: 4 })
  t.teardown(() => service.close())
  await service.ready()
  await service.register(email, PASSWORD)
  const tokens: string[] = []
  for (let i = 0; i < count; i++) tokens.push((await service.login(email, PASSWORD)).accessToken)
  return { service, tokens }
}

/** The first two tokens asked for in two turns, so two statements are in flight (held by the gate). */
async function twoInFlight (service: AuthService, store: GatedStore, tokens: string[]) {
  const answers = [service.verifyAccessToken(tokens[0])]
  await store.asked(1)
  answers.push(service.verifyAccessToken(tokens[1]))
  await store.asked(2)
  return answers
}

t.test('an asynchronous store: at most two batches in flight; what waits meanwhile goes in one', async (t) => {
  const store = new GatedStore(sqliteStore(':memory:'))
  const { service, tokens } = await loggedIn(t, store, 'gate@example.com', 4)

  const answers = await twoInFlight(service, store, tokens)
  answers.push(service.verifyAccessToken(tokens[2]), service.verifyAccessToken(tokens[3]))
  await nextTurn()
  await nextTurn()
  t.equal(store.batches.length, 2, 'a third statement waits while two are in flight')
  store.letGo()
  await store.asked(3)
  t.same(store.batches.map((b) => b.length), [1, 1, 2], 'the two that waited went in one')
  store.letGo()
  const verified = await Promise.all(answers)
  t.same(verified.map((v) => v.user.email), Array(4).fill('gate@example.com'))
  t.same(verified.map((v) => v.sessionId), store.batches.flat(), 'each answered with its own session')
  t.equal(store.calls.get('sessions.find'), undefined, 'never asked one by one')
})

t.test('two statements that take longer than SLOW_BATCH_MS (100 ms) no longer hold back the next', async (t) => {
  const store = new GatedStore(sqliteStore(':memory:'))
  const { service, tokens } = await loggedIn(t, store, 'stuck@example.com', 3)
  const answers = await twoInFlight(service, store, tokens)
  answers.push(service.verifyAccessToken(tokens[2]))
  // Neither of the first two ends: the third is asked for once they have been in flight SLOW_BATCH_MS.
  await nextTurn()
  await nextTurn()
  t.equal(store.batches.length, 2, 'held back at first')
  await store.asked(3)
  t.same(store.batches.map((b) => b.length), [1, 1, 1])
  store.letGo()
  t.same((await Promise.all(answers)).map((v) => v.user.email), Array(3).fill('stuck@example.com'))
  store.letGo()
})

t.test('an asynchronous batch lookup that throws at once is a store failure for its batch, and the next batch goes on', async (t) => {
  const inner = sqliteStore(':memory:')
  let fail = true
  const throwing = new CountingStore(inner)
  throwing.override('sessions', 'findMany', (sessionIds: readonly string[]): Promise<Array<FoundSession | undefined>> => {
    if (fail) throw new Error('no connection')
    return Promise.resolve(inner.sessions[findMany](sessionIds))
  })
  const errors: string[] = []
  const service = new AuthService({ store: throwing, secret: SECRET, bcryptRounds: 4, logger: { warn: () => {}, error: (_o, msg) => { errors.push(String(msg)) } } })
  t.teardown(() => service.close())
  await service.ready()
  await service.register('throw@example.com', PASSWORD)
  const { accessToken } = await service.login('throw@example.com', PASSWORD)
  await t.rejects(service.verifyAccessToken(accessToken), { code: 'service_unavailable' })
  t.same(errors, ['fastify-drizzle-auth: the store failed'])
  fail = false
  t.equal((await service.verifyAccessToken(accessToken)).user.email, 'throw@example.com')
})

t.test('a store answering a batch out of order: no token is accepted on another session\'s answer', async (t) => {
  const inner = sqliteStore(':memory:')
  const reversed = new CountingStore(inner)
  reversed.override('sessions', 'findMany', async (sessionIds: readonly string[]) => inner.sessions[findMany](sessionIds).reverse())
  const { service, tokens } = await loggedIn(t, reversed, 'order@example.com', 2)
  // Matched by position, each token would get the other session's answer (same user, live): refused instead.
  const outcomes = await Promise.allSettled(tokens.map(async (token) => service.verifyAccessToken(token)))
  t.same(outcomes.map((o) => o.status), ['rejected', 'rejected'], 'each answer names another session: both refused')
  for (const o of outcomes) t.match((o as PromiseRejectedResult).reason, { code: 'invalid_token' })
})
