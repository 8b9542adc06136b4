import { eq, getTableColumns, sql } from 'drizzle-orm'
import type { FoundSession, PublicUserRecord } from '../store.ts'
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
    if (row === undefined) return undefined
    const user: Record<string, unknown> = {}
    for (let i = 0; i < columns.length; i++) {
      const value = row[i + 3]
      user[columns[i][0]] = value === null ? null : columns[i][1].mapFromDriverValue(value)
    }
    return Object.freeze({
      session: Object.freeze({
        id: sessionId,
        userId: row[0] as string,
        expiresAt: expiresAt.mapFromDriverValue(row[1] as Date) as Date,
        revokedAt: row[2] === null ? null : revokedAt.mapFromDriverValue(row[2] as Date) as Date
      }),
      user: Object.freeze(user) as unknown as PublicUserRecord
    })
  }
}
