import { parseArgs } from 'node:util'
import { isPostgresUrl, loadDialect } from '../db/index.ts'
import { LEGACY_MIGRATIONS_SCHEMA, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from '../db/migrations-table.ts'
import { databaseFailure } from '../service/url-password.ts'
import { ConfigurationError } from '../errors.ts'

export interface CliOutput {
  out: (line: string) => void
  err: (line: string) => void
}

/** How the command loads each dialect (only the one the database needs): by default, import(). */
export interface DialectLoaders {
  sqlite: () => Promise<typeof import('../db/sqlite/index.ts')>
  pg: () => Promise<typeof import('../db/pg/index.ts')>
}

const IMPORT_DIALECTS: DialectLoaders = {
  sqlite: () => import('../db/sqlite/index.ts'),
  pg: () => import('../db/pg/index.ts')
}

const USAGE = [
  'Usage: fastify-drizzle-auth migrate --database <sqlite file | postgres:// URL> [--own-users-table]',
  '',
  '  migrate            apply the plugin\'s migrations (already-applied ones are skipped)',
  '  --database, -d     the database; defaults to $DATABASE_URL',
  '  --own-users-table  the application passes its own `usersTable`: do not create auth_users'
].join('\n')

/**
 * The `fastify-drizzle-auth` command. Returns the exit code: 0 done, 1 the database failed, 2 a usage error
 * (each with a message that says what to change).
 */
export async function runCli (
  argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: CliOutput, dialects: DialectLoaders = IMPORT_DIALECTS
): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        database: { type: 'string', short: 'd' },
        'own-users-table': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    io.err(`fastify-drizzle-auth: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    io.out(USAGE)
    return 0
  }
  if (positionals.length !== 1 || positionals[0] !== 'migrate') {
    io.err(`fastify-drizzle-auth: ${positionals.length === 0 ? 'no command given' : `unknown command '${positionals.join(' ')}'`}\n${USAGE}`)
    return 2
  }
  const database = values.database ?? env.DATABASE_URL
  if (database === undefined || database === '') {
    io.err(`fastify-drizzle-auth: no database: pass --database <file|postgres:// URL> or set DATABASE_URL\n${USAGE}`)
    return 2
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(database)?.[1]
  if (scheme !== undefined && !isPostgresUrl(database)) {
    io.err(`fastify-drizzle-auth: ${scheme}:// is not supported: pass an SQLite file path or a postgres:// URL`)
    return 2
  }
  const ownUsersTable = values['own-users-table'] === true
  try {
    const applied = isPostgresUrl(database)
      ? await migratePostgres(await loadDialect('pg', dialects.pg), database, ownUsersTable)
      : await migrateSqlite(await loadDialect('better-sqlite3', dialects.sqlite), database, ownUsersTable)
    io.out(`fastify-drizzle-auth: ${applied.after - applied.before} migration(s) applied, ${applied.after} in all`)
    return 0
  } catch (err) {
    if (err instanceof ConfigurationError) {
      io.err(err.message)
      return 2
    }
    io.err(`fastify-drizzle-auth: migrating failed: ${databaseFailure(err as Error, database)}`)
    return 1
  }
}

interface Applied { before: number, after: number }

async function migrateSqlite ({ migrate, openSqlite }: Awaited<ReturnType<DialectLoaders['sqlite']>>, path: string, ownUsersTable: boolean): Promise<Applied> {
  const { db, close } = openSqlite(path, { backgroundCheckpoints: false })
  try {
    const count = (): number => {
      const exists = db.$client.prepare("select 1 from sqlite_master where type = 'table' and name = ?").get(MIGRATIONS_TABLE)
      return exists === undefined ? 0 : Number(db.$client.prepare(`select count(*) from ${MIGRATIONS_TABLE}`).pluck().get())
    }
    const before = count()
    migrate(db, { ownUsersTable })
    return { before, after: count() }
  } finally {
    await close()
  }
}

async function migratePostgres ({ migrate, openPostgres }: Awaited<ReturnType<DialectLoaders['pg']>>, url: string, ownUsersTable: boolean): Promise<Applied> {
  const { db, close } = openPostgres(url)
  try {
    // Where it is now, or where versions before 0.2 kept it (migrate() moves it from there).
    const count = async (): Promise<number> => {
      for (const schema of [MIGRATIONS_SCHEMA, LEGACY_MIGRATIONS_SCHEMA]) {
        const table = `${schema}.${MIGRATIONS_TABLE}`
        const { rows } = await db.$client.query<{ exists: boolean }>('select to_regclass($1) is not null as exists', [table])
        if (rows[0]?.exists !== true) continue
        const counted = await db.$client.query<{ n: number }>(`select count(*)::int as n from ${table}`)
        return counted.rows[0]!.n
      }
      return 0
    }
    const before = await count()
    await migrate(db, { ownUsersTable })
    return { before, after: await count() }
  } finally {
    await close()
  }
}
