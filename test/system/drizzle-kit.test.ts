/**
 * The drizzle-kit recipe for an application's own tables, with drizzle-kit itself: the plugin's tables stay out
 * of the application's schema and are filtered out of its config, so `generate` + migrate and `push` both leave
 * them to the plugin's own migrations; an application whose migration made them anyway gets a message naming
 * the recipe. drizzle-kit loads the schema (and so src/) with its own compiler in a child process: this file
 * gives no coverage.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { AuthService, MIGRATIONS_TABLE } from '../../src/index.ts'
import { openSqlite } from '../../src/db/sqlite/open.ts'
import { PASSWORD, SECRET } from '../fixtures/app.ts'
import { availableDialects, createTestDatabase, type Dialect } from '../fixtures/databases.ts'
import { tempDir } from '../fixtures/temp.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FILTER = ['!auth_*', `!${MIGRATIONS_TABLE}`]

/** Runs the project's drizzle-kit with an application config; returns its output. */
function drizzleKit (command: 'generate' | 'push', dir: string, config: Record<string, unknown>): string {
  const configFile = join(dir, `drizzle.config.${command}.mjs`)
  writeFileSync(configFile, `export default ${JSON.stringify(config)}\n`)
  const args = command === 'push' ? ['--verbose', '--force'] : []
  const run = spawnSync(process.execPath, [join(ROOT, 'node_modules/drizzle-kit/bin.cjs'), command, '--config', configFile, ...args],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  if (run.status !== 0) throw new Error(`drizzle-kit ${command} exited ${run.status}: ${run.stdout}\n${run.stderr}`)
  return `${run.stdout}\n${run.stderr}`
}

/** The application's schema: its own users table (from authUserColumns) and posts; with `listsPluginTables`, the old recipe's re-exports too. */
function appSchema (dialect: Dialect, listsPluginTables: boolean): string {
  const [core, table, entry] = dialect === 'sqlite' ? ['sqlite-core', 'sqliteTable', 'sqlite'] : ['pg-core', 'pgTable', 'pg']
  const plugin = join(ROOT, `src/db/${entry}/index.ts`)
  return [
    `import { integer, ${table}, text } from 'drizzle-orm/${core}'`,
    `import { authUserColumns } from '${plugin}'`,
    `export const appUsers = ${table}('app_users', { ...authUserColumns(), nickname: text('nickname') })`,
    `export const posts = ${table}('posts', { id: integer('id').primaryKey(), title: text('title').notNull() })`,
    ...(listsPluginTables ? [`export { sessions, refreshTokens, loginAttempts, deviceTokens, actionTokens, outbox } from '${plugin}'`] : [])
  ].join('\n')
}

/** Applies the generated folder with drizzle-orm's own migrator, as the application would. */
async function applyAppMigrations (dialect: Dialect, target: string, folder: string): Promise<void> {
  if (dialect === 'sqlite') {
    const { migrate } = await import('drizzle-orm/better-sqlite3/migrator')
    const opened = openSqlite(target)
    try { migrate(opened.db, { migrationsFolder: folder }) } finally { await opened.close() }
    return
  }
  const { drizzle } = await import('drizzle-orm/node-postgres')
  const { migrate } = await import('drizzle-orm/node-postgres/migrator')
  const db = drizzle(target)
  try { await migrate(db, { migrationsFolder: folder }) } finally { await db.$client.end() }
}

function generatedSql (folder: string): string {
  return readdirSync(folder).filter((name) => name.endsWith('.sql')).map((name) => readFileSync(join(folder, name), 'utf8')).join('\n')
}

/** An application project inside the checkout (so its schema resolves drizzle-orm), with its own database. */
async function project (t: Test, dialect: Dialect, listsPluginTables: boolean) {
  const dir = tempDir(t, '.test-tmp-kit-', ROOT)
  const db = dialect === 'sqlite' ? undefined : await createTestDatabase('postgresql')
  if (db !== undefined) t.teardown(() => db.close())
  const target = db?.url ?? join(dir, 'app.sqlite')
  const schema = join(dir, 'schema.ts')
  writeFileSync(schema, appSchema(dialect, listsPluginTables))
  const out = join(dir, 'migrations')
  const config = { dialect: dialect === 'sqlite' ? 'sqlite' : 'postgresql', schema, out, dbCredentials: { url: target } }
  const appUsers = async () => (await import(pathToFileURL(schema).href) as { appUsers: never }).appUsers
  return { dir, target, out, config, appUsers }
}

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: the filtered recipe works with generate + migrate and with push`, async (t) => {
    const { dir, target, out, config: base, appUsers: load } = await project(t, dialect, false)
    const config = { ...base, tablesFilter: FILTER }

    drizzleKit('generate', dir, config)
    const generated = generatedSql(out)
    t.match(generated, /CREATE TABLE .app_users./, 'the application\'s users table is in its migration')
    t.match(generated, /CREATE TABLE .posts./)
    t.notMatch(generated, /auth_/, 'none of the plugin\'s tables is')
    await applyAppMigrations(dialect, target, out)

    const appUsers = await load()
    const service = new AuthService({ database: target, secret: SECRET, bcryptRounds: 4, usersTable: appUsers })
    await service.ready()
    await service.register('kept@example.com', PASSWORD, { nickname: 'kept' } as never)
    t.match(await service.login('kept@example.com', PASSWORD), { tokenType: 'bearer' }, 'the plugin made its own tables beside the application\'s and signs in')
    await service.close()

    const pushed = drizzleKit('push', dir, config)
    t.notMatch(pushed, /DROP/, 'push with the same config proposes no DROP of any kind')
    const again = new AuthService({ database: target, secret: SECRET, bcryptRounds: 4, usersTable: appUsers })
    t.match(await again.login('kept@example.com', PASSWORD), { tokenType: 'bearer' }, 'the account and its tables are intact after push')
    await again.close()
  })

  t.test(`${dialect}: a migration that made the plugin's tables gets a message naming the recipe`, async (t) => {
    const { dir, target, out, config, appUsers: load } = await project(t, dialect, true)
    drizzleKit('generate', dir, config)
    t.match(generatedSql(out), /CREATE TABLE .auth_sessions./, 'listing the plugin\'s tables puts them in the application\'s migration')
    await applyAppMigrations(dialect, target, out)
    const service = new AuthService({ database: target, secret: SECRET, bcryptRounds: 4, usersTable: await load() })
    await t.rejects(service.ready(), {
      name: 'ConfigurationError',
      message: /its migration cannot create `auth_\w+`: it already exists, made by another migration .*tablesFilter: \['!auth_\*', '!__fastify_drizzle_auth_migrations'\]/
    })
    await service.close().catch(() => {})
  })
}
