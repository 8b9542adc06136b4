/**
 * The suites' PostgreSQL databases: a migrated one is a clone of the template tap's `before` script made (the
 * plugin's tables there before the plugin opens it), an empty one has no table, and both are dropped on close.
 */
import t from 'tap'
import { createTestDatabase, requirePostgres } from './fixtures/databases.ts'
import { admin, TEMPLATE } from './fixtures/pg-server.ts'

const tables = "select table_name from information_schema.tables where table_schema = 'public' order by table_name"

if (await requirePostgres()) {
  t.test('a migrated database is cloned from the template; an empty one is empty; both go on close', async (t) => {
    const migrated = await createTestDatabase('postgresql', { migrated: true })
    const empty = await createTestDatabase('postgresql')
    t.ok((await migrated.query(tables)).some((row) => row.table_name === 'auth_sessions'), 'the plugin\'s tables are already there')
    t.same(await empty.query(tables), [], 'no table at all')
    const names = [migrated.url, empty.url].map((url) => new URL(url!).pathname.slice(1))
    await migrated.close()
    await empty.close()
    const left = await admin(async (client) => (await client.query('select datname from pg_database where datname = any($1) or datname = $2', [names, TEMPLATE])).rows)
    t.same(left.map((row) => row.datname), [TEMPLATE], 'both dropped; the template stays for the other files')
  })
}
