/**
 * Issue 10 item 7: an application that lists the plugin's tables in its own drizzle-kit schema gets no DROP
 * from `drizzle-kit push` (and its data stays), while one that does not would lose them. drizzle-kit loads
 * the schema (and so src/) with its own compiler in a child process: this file gives no coverage.
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { runCli } from '../src/cli/run.ts'
import { AuthService, MIGRATIONS_TABLE } from '../src/index.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'
import { availableDialects, createTestDatabase, type Dialect } from './fixtures/databases.ts'
import { tempDir } from './fixtures/temp.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Runs the project's drizzle-kit push (auto-approving, verbose) with an application config; returns its output. */
function drizzleKitPush (dir: string, config: Record<string, unknown>): string {
  const configFile = join(dir, 'drizzle.config.mjs')
  writeFileSync(configFile, `export default ${JSON.stringify(config)}\n`)
  const run = spawnSync(process.execPath, [join(ROOT, 'node_modules/drizzle-kit/bin.cjs'), 'push', '--config', configFile, '--verbose', '--force'],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  return `${run.stdout}\n${run.stderr}`
}

// With the plugin's tables listed, plus a table of the application's own; without, only `users` (with a new
// table as well, drizzle-kit would first ask whether it is a rename, which needs a terminal).
function appSchema (dialect: Dialect, withAuthTables: boolean): string {
  const [core, table, entry] = dialect === 'sqlite' ? ['sqlite-core', 'sqliteTable', 'sqlite'] : ['pg-core', 'pgTable', 'pg']
  const plugin = join(ROOT, `src/db/${entry}/index.ts`)
  if (!withAuthTables) return `export { users } from '${plugin}'`
  return [
    `import { integer, ${table}, text } from 'drizzle-orm/${core}'`,
    `export { users, sessions, refreshTokens, loginAttempts, deviceTokens, actionTokens, outbox${dialect === 'sqlite' ? ', authChanges' : ''} } from '${plugin}'`,
    `export const posts = ${table}('posts', { id: integer('id').primaryKey(), title: text('title').notNull() })`
  ].join('\n')
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: drizzle-kit push of an application that lists the plugin's tables proposes no DROP`, async (t) => {
    // Inside the checkout, so the schema file resolves drizzle-orm.
    const dir = tempDir(t, '.test-tmp-kit-', ROOT)
    for (const withAuthTables of [true, false]) {
      const file = join(dir, `app-${withAuthTables}.sqlite`)
      const db = dialect === 'sqlite' ? undefined : await createTestDatabase('postgresql')
      if (db !== undefined) t.teardown(() => db.close())
      const target = db?.url ?? file
      t.equal(await runCli(['migrate', '-d', target], {}, { out: () => {}, err: () => {} }), 0)
      const service = new AuthService({ database: target, secret: SECRET, bcryptRounds: 4 })
      await service.register('kept@example.com', PASSWORD)
      await service.login('kept@example.com', PASSWORD)
      await service.close()

      writeFileSync(join(dir, `schema-${withAuthTables}.ts`), appSchema(dialect, withAuthTables))
      const output = drizzleKitPush(dir, dialect === 'sqlite'
        ? { dialect: 'sqlite', schema: join(dir, `schema-${withAuthTables}.ts`), dbCredentials: { url: file }, tablesFilter: [`!${MIGRATIONS_TABLE}`] }
        : { dialect: 'postgresql', schema: join(dir, `schema-${withAuthTables}.ts`), dbCredentials: { url: target } })
      const check = new AuthService({ database: target, secret: SECRET, bcryptRounds: 4 })
      if (withAuthTables) {
        t.match(output, /CREATE TABLE .posts./, "the application's own table is created")
        t.notMatch(output, /DROP/, 'no DROP of any kind')
        t.match(await check.login('kept@example.com', PASSWORD), { tokenType: 'bearer' }, 'the account and its tables are intact')
      } else {
        t.match(output, /DROP TABLE .auth_sessions./, 'without them in the schema, push drops the plugin\'s tables (what the listing prevents)')
      }
      await check.close().catch(() => {})
    }
  })
}
