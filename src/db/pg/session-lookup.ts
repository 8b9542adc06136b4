import { eq, getTableColumns, sql } from 'drizzle-orm'
import { toFoundSession } from '../found-session.ts'
import type { FoundSession } from '../store.ts'
import { sessions, type users } from './schema.ts'
import type { PgDatabase } from './store.ts'

interface ArrayQuery {
  query (config: { name: string, text: string, values: unknown[], rowMode: 'array' }): Promise<{ rows: unknown[][] }>
}

/**
 * The hot-path lookup on PostgreSQL: the SQL built by Drizzle from the table objects, run straight through
 * node-postgres as a named prepared statement (parsed once per connection) returning arrays, each value
 * mapped by its column's own driver mapping. No query building and no row objects per request.
 */
export function compilePgSessionLookup (db: PgDatabase, usersTable: typeof users): (sessionId: string) => Promise<FoundSession | undefined> {
  const { passwordHash: _hash, ...userColumns } = getTableColumns(usersTable)
  const columns = Object.entries(userColumns)
  const { sql: text } = db.select({
    userId: sessions.userId,
    expiresAt: sessions.expiresAt,
    revokedAt: sessions.revokedAt,
    ...userColumns
  }).from(sessions)
    .innerJoin(usersTable, eq(usersTable.id, sessions.userId))
    .where(eq(sessions.id, sql.placeholder('sid')))
    .toSQL()
  const client = (db as unknown as { $client: ArrayQuery }).$client
  const { expiresAt, revokedAt } = sessions
  return async (sessionId) => {
    const { rows: [row] } = await client.query({ name: 'fastify_drizzle_auth_find_session', text, values: [sessionId], rowMode: 'array' })
    return row === undefined ? undefined : toFoundSession(sessionId, row, 0, columns, expiresAt, revokedAt)
  }
}
