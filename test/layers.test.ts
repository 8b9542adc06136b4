/**
 * The layers show in the import graph of src/: the shared errors and the store contract import nothing; the
 * generic helpers of lib/ import only each other and the errors; the dialects import neither the service nor Fastify; the
 * service reaches src/db/ only through the contract and the dispatcher, and imports no Fastify; the Fastify
 * side never imports from src/db/; only the dispatcher loads a dialect, and only when it is used.
 */
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { type ImportEdge, readImports, violations } from './fixtures/import-graph.ts'

const SRC = fileURLToPath(new URL('../src', import.meta.url))

t.test('no import of src/ points the wrong way', async (t) => {
  const edges = readImports(SRC)
  t.ok(edges.length > 100, `${edges.length} imports read`)
  t.same(violations(edges), [])
})

t.test('the service depends on the store contract, and loads a dialect only through the dispatcher, lazily', async (t) => {
  const edges = readImports(SRC)
  const dispatcher = edges.filter((e) => e.from === 'db/index.ts' && /^db\/(sqlite|pg)\//.test(e.to))
  t.same(dispatcher.map((e) => [e.to, e.dynamic]), [['db/pg/index.ts', true], ['db/sqlite/index.ts', true]])
  t.notOk(edges.some((e) => e.from === 'index.ts' && /^db\/(sqlite|pg)\//.test(e.to)), 'the root entry loads no dialect')
  t.notOk(edges.some((e) => e.from.startsWith('service/') && /^(better-sqlite3|pg)$/.test(e.to)), 'the service loads no driver')
})

t.test('the checker sees each kind of wrong arrow', async (t) => {
  const wrong: ImportEdge[] = [
    { from: 'errors.ts', to: 'service/user.ts', dynamic: false },
    { from: 'service/auth-service.ts', to: 'db/sqlite/store.ts', dynamic: false },
    { from: 'service/auth-service.ts', to: 'guards.ts', dynamic: false },
    { from: 'service/auth-service.ts', to: 'fastify', dynamic: false },
    { from: 'service/store-access.ts', to: 'db/connection-error.ts', dynamic: false },
    { from: 'lib/bounded-cache.ts', to: 'service/user.ts', dynamic: false },
    { from: 'guards.ts', to: 'db/store.ts', dynamic: false },
    { from: 'db/sqlite/store.ts', to: 'service/user.ts', dynamic: false },
    { from: 'db/sqlite/store.ts', to: 'db/pg/schema.ts', dynamic: false },
    { from: 'db/index.ts', to: 'db/sqlite/index.ts', dynamic: false },
    { from: 'index.ts', to: 'db/pg/index.ts', dynamic: false },
    { from: 'db/pg/store.ts', to: 'better-sqlite3', dynamic: false },
    { from: 'cli/run.ts', to: 'db/sqlite/index.ts', dynamic: false },
    { from: 'cli/run.ts', to: 'guards.ts', dynamic: false }
  ]
  t.equal(violations(wrong).length, wrong.length, violations(wrong).join('\n'))
})
