/**
 * The conformance kit (`fastify-drizzle-auth/testing`) run on every store of the project: SQLite, PostgreSQL
 * (skipped locally with one line when no server answers; required under CI) and an application's own
 * asynchronous wrapper written from the public types alone. Each case is a tap test of its own.
 */
import t, { type Test } from 'tap'
import { AuthService, type AnyAuthStore } from '../src/index.ts'
import { sqliteStore } from '../src/db/sqlite/index.ts'
import { pgStore } from '../src/db/pg/index.ts'
import { loadDialect, openStore as openShortcut } from '../src/db/index.ts'
import { runStoreCase, storeCases, testAuthStore } from '../src/testing/index.ts'
import { CountingStore } from './fixtures/counting-store.ts'
import { createTestDatabase, type Dialect, requirePostgres } from './fixtures/databases.ts'

const dialects: Dialect[] = ['sqlite']
if (await requirePostgres()) dialects.push('postgresql')

/** A fresh store over an empty database of its own; the database goes when the test ends. */
function storeMaker (t: Test, dialect: Dialect, wrap: (store: AnyAuthStore) => AnyAuthStore = (store) => store) {
  return async (): Promise<AnyAuthStore> => {
    const db = await createTestDatabase(dialect)
    t.teardown(() => db.close())
    return wrap(typeof db.database === 'string' ? pgStore(db.database) : sqliteStore(db.database))
  }
}

const stores: Array<[string, Dialect, ((store: AnyAuthStore) => AnyAuthStore) | undefined]> = [
  ...dialects.map((dialect): [string, Dialect, undefined] => [dialect, dialect, undefined]),
  ['an application\'s own asynchronous store', 'sqlite', (store) => new CountingStore(store)],
  ['an application\'s own store without batched lookups', 'sqlite', (store) => new CountingStore(store, { batched: false })]
]

for (const [label, dialect, wrap] of stores) {
  t.test(label, async (t) => {
    for (const storeCase of storeCases) {
      t.test(storeCase.name, async (t) => {
        const result = await runStoreCase(storeCase, storeMaker(t, dialect, wrap))
        if (result.error !== undefined) throw result.error
        t.equal(result.name, storeCase.name)
      })
    }
  })
}

t.test('testAuthStore: resolves with every case passed on a conforming store, rejects naming the cases a broken one fails', async (t) => {
  const closed: string[] = []
  const passed = await testAuthStore(storeMaker(t, 'sqlite'), { afterEach: (store) => { closed.push(store.dialect) } })
  t.same(passed.map((r) => r.name), storeCases.map((c) => c.name))
  t.equal(closed.length, storeCases.length, 'each case on a fresh store, closed after it')

  // Counts by reading then writing, across an await: concurrent hits lose updates.
  const lossy = (store: AnyAuthStore): AnyAuthStore => {
    const counts = new Map<string, number>()
    const wrapped = new CountingStore(store)
    wrapped.override('limits', 'hit', async (limits: Array<{ key: string }>, windowMs: number, now: Date) => {
      const before = limits.map(({ key }) => counts.get(key) ?? 0)
      await new Promise(setImmediate)
      limits.forEach(({ key }, i) => counts.set(key, before[i] + 1))
      return { counted: true, counts: limits.map(({ key }) => ({ key, count: counts.get(key)!, resetAt: new Date(now.getTime() + windowMs) })) }
    })
    return wrapped
  }
  const reported: string[] = []
  const err = await testAuthStore(storeMaker(t, 'sqlite', lossy), { onResult: (r) => { if (r.error !== undefined) reported.push(r.name) } })
    .then(() => null, (e: unknown) => e as AggregateError)
  t.ok(err instanceof AggregateError)
  t.ok(reported.includes(storeCases[storeCases.findIndex((c) => c.name.startsWith('limits: atomic counting'))].name), 'the lost updates are caught')
  t.equal(err!.errors.length, reported.length)
  t.ok(err!.message.startsWith(`${reported.length} of ${storeCases.length} store cases failed: `), err!.message)
  t.ok(err!.message.includes('limits: atomic counting'), 'the message names the failed cases')
})

t.test('the database shortcut opens the dialect its value names; closing twice is harmless', async (t) => {
  const common = { usersTable: undefined, migrate: true, postgresPool: {} }
  const sqlite = await openShortcut({ ...common, database: ':memory:' })
  t.same([sqlite.dialect, sqlite.mode], ['sqlite', 'sync'])
  t.equal(sqlite.sessions.find('none'), undefined, 'answered without a promise, migrated')
  await sqlite.close()
  await t.resolves(sqlite.close())
  const pg = await openShortcut({ ...common, database: 'postgres://postgres@127.0.0.1:1/none', migrate: false })
  t.same([pg.dialect, pg.mode], ['postgresql', 'async'])
  await pg.close()
  await t.resolves(pg.close())
})

t.test('a missing driver is a ConfigurationError naming the package to install; other load failures pass through', async (t) => {
  const missing = Object.assign(new Error("Cannot find package 'pg' imported from /app/node_modules/fastify-drizzle-auth/dist/db/pg/open.js"), { code: 'ERR_MODULE_NOT_FOUND' })
  await t.rejects(loadDialect('pg', () => Promise.reject(missing)), { code: 'configuration_error', message: /needs the 'pg' package: npm install pg/ })
  const other = Object.assign(new Error("Cannot find module './gone.js'"), { code: 'ERR_MODULE_NOT_FOUND' })
  await t.rejects(loadDialect('pg', () => Promise.reject(other)), other)
  t.equal(await loadDialect('pg', async () => 'loaded'), 'loaded')
})

t.test('the dialect factories and the store option refuse what they cannot use, saying what to pass', async (t) => {
  t.throws(() => sqliteStore({} as never), { code: 'configuration_error', message: /sqliteStore\(\) takes a file path/ })
  t.throws(() => pgStore({} as never), { code: 'configuration_error', message: /pgStore\(\) takes a postgres:\/\/ URL/ })
  t.throws(() => new AuthService({ store: {} as never, secret: 'x'.repeat(32) }), { code: 'configuration_error', message: /`store` must be an AuthStore/ })
})
