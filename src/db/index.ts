import type { ResolvedConfig } from '../config.ts'
import { isPgDatabase, migrate } from './migrate.ts'
import { isPostgresUrl, openPostgres, openSqlite } from './open.ts'
import { PgAuthStore, type PgDatabase, type PgUsersTable } from './pg/store.ts'
import { type SqliteDatabase, SqliteAuthStore, type SqliteUsersTable } from './sqlite/store.ts'
import type { AuthStore } from './store.ts'

/** Turns the `database` option (a path, a postgres:// URL or a Drizzle database) into a store of its dialect. */
export function openStore (config: ResolvedConfig): AuthStore {
  // resolveConfig guarantees a database whenever no store was given.
  const database = config.database!
  const migratePg = config.migrate ? (db: PgDatabase) => migrate(db) : undefined
  if (typeof database === 'string' && isPostgresUrl(database)) {
    const opened = openPostgres(database, config.postgresPool)
    return new PgAuthStore(opened.db, config.usersTable as PgUsersTable | undefined, { migrate: migratePg, onClose: opened.close })
  }
  if (isPgDatabase(database)) {
    return new PgAuthStore(database, config.usersTable as PgUsersTable | undefined, { migrate: migratePg })
  }
  const usersTable = config.usersTable as SqliteUsersTable | undefined
  if (typeof database === 'string') {
    const opened = openSqlite(database)
    try {
      if (config.migrate) migrate(opened.db)
    } catch (err) {
      void opened.close()
      throw err
    }
    return new SqliteAuthStore(opened.db, usersTable, opened.close)
  }
  if (config.migrate) migrate(database as SqliteDatabase)
  return new SqliteAuthStore(database as SqliteDatabase, usersTable)
}
