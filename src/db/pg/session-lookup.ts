import { eq, getTableColumns, sql } from 'drizzle-orm'
import { toFoundSession } from '../found-session.ts'
import type { FoundSession } from '../store.ts'
import { sessions, type users } from './schema.ts'
import type { PgDatabase } from './store.ts'

interface ArrayQuery {
  query (config: { name: string, text: string, values: unknown[], rowMode: 'array' }): Promise<{ rows: unknown[][] }>
}

export interface PgSessionLookup {
  one: (sessionId: string) => Promise<FoundSession | undefined>
  /** Several lookups in one statement (`= any($1)`), answered in the order asked. */
  many: (sessionIds: readonly string[]) => Promise<Array<FoundSession | undefined>>
}

/**
 * The hot-path lookup on PostgreSQL: the SQL built by Drizzle from the table objects, run straight through
 * node-postgres as named prepared statements (parsed once per connection) returning arrays, each value
 * mapped by its column's own driver mapping. No query building and no row objects per request.
 */
export function compilePgSessionLookup (db: PgDatabase, usersTable: typeof users): PgSessionLookup {
  const { passwordHash: _hash, ...userColumns } = getTableColumns(usersTable)
  const columns = Object.entries(userColumns)
  const select = (where: ReturnType<typeof sql>): string => db.select({
    sessionId: sessions.id,
    userId: sessions.userId,
    expiresAt: sessions.expiresAt,
    revokedAt: sessions.revokedAt,
    ...userColumns
  }).from(sessions)
    .innerJoin(usersTable, eq(usersTable.id, sessions.userId))
    .where(where)
    .toSQL().sql
  const oneText = select(sql`${sessions.id} = ${sql.placeholder('sid')}`)
  const manyText = select(sql`${sessions.id} = any(${sql.placeholder('sids')}::text[])`)
  const client = (db as unknown as { $client: ArrayQuery }).$client
  const { expiresAt, revokedAt } = sessions
  return {
    one: async (sessionId) => {
      const { rows: [row] } = await client.query({ name: 'fastify_drizzle_auth_find_session', text: oneText, values: [sessionId], rowMode: 'array' })
      return row === undefined ? undefined : toFoundSession(sessionId, row, 1, columns, expiresAt, revokedAt)
    },
    many: async (sessionIds) => {
      const unique = [...new Set(sessionIds)]
      const { rows } = await client.query({ name: 'fastify_drizzle_auth_find_sessions', text: manyText, values: [unique], rowMode: 'array' })
      const found = new Map<string, FoundSession>()
      for (const row of rows) found.set(row[0] as string, toFoundSession(row[0] as string, row, 1, columns, expiresAt, revokedAt))
      return sessionIds.map((id) => found.get(id))
    }
  }
}
