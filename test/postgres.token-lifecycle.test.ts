// The token-lifecycle suite again, on PostgreSQL (skipped locally with one line when no server answers; required under CI).
import { requirePostgres } from './fixtures/databases.ts'

if (await requirePostgres()) {
  process.env.TEST_DIALECT = 'postgresql'
  await import('./token-lifecycle.test.ts')
}
