/**
 * `fastify-drizzle-auth/testing`: the conformance kit for AuthStore implementations. Framework-neutral (it
 * asserts with `node:assert`), so an application can prove its own store, or a wrapper around one of ours,
 * from any test runner: the same behaviours the bundled SQLite and PostgreSQL stores are held to.
 */
import type { AnyAuthStore } from '../db/store.ts'
import { accountCases } from './account-cases.ts'
import { actionCases } from './action-cases.ts'
import type { StoreCase } from './case.ts'
import { limitCases } from './limit-cases.ts'
import { sessionCases, userCases } from './user-session-cases.ts'

export type { StoreCase } from './case.ts'

/** Every case, in the order `testAuthStore` runs them; a runner may register each as a test of its own. */
export const storeCases: readonly StoreCase[] = Object.freeze([...userCases, ...sessionCases, ...limitCases, ...actionCases, ...accountCases])

export interface StoreCaseResult {
  name: string
  /** The assertion (or other error) that failed it; undefined when it passed. */
  error?: unknown
}

export interface TestAuthStoreOptions {
  /** Runs after each case once its store is closed, e.g. to drop the database `makeStore` created. */
  afterEach?: (store: AnyAuthStore) => void | Promise<void>
  /** Told of each case as it ends (a reporter). */
  onResult?: (result: StoreCaseResult) => void
}

/**
 * Runs every case on a fresh store from `makeStore` (over an empty, migrated database of its own), one after
 * another, closing each store after its case. Resolves with the results when all passed; otherwise rejects
 * with an AggregateError of the failed cases' errors, its message naming them.
 */
export async function testAuthStore (makeStore: () => AnyAuthStore | Promise<AnyAuthStore>, options: TestAuthStoreOptions = {}): Promise<StoreCaseResult[]> {
  const results: StoreCaseResult[] = []
  for (const storeCase of storeCases) {
    const result = await runStoreCase(storeCase, makeStore, options.afterEach)
    options.onResult?.(result)
    results.push(result)
  }
  const failed = results.filter((result) => 'error' in result)
  if (failed.length > 0) {
    throw new AggregateError(failed.map((result) => result.error), `${failed.length} of ${results.length} store cases failed: ${failed.map((result) => result.name).join('; ')}`)
  }
  return results
}

/** One case on a fresh store, closed afterwards whatever happened (a store that fails to close fails the run). */
export async function runStoreCase (
  storeCase: StoreCase, makeStore: () => AnyAuthStore | Promise<AnyAuthStore>, afterEach?: TestAuthStoreOptions['afterEach']
): Promise<StoreCaseResult> {
  const store = await makeStore()
  let result: StoreCaseResult
  try {
    await store.ready()
    await storeCase.run(store)
    result = { name: storeCase.name }
  } catch (error) {
    result = { name: storeCase.name, error }
  }
  await store.close()
  await afterEach?.(store)
  return result
}
