import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core'
import { type SessionTableColumns, watchedSessionColumns } from '../answered-columns.ts'
import { quotedIdentifier } from '../quoted-identifier.ts'

export const CHANGES_CHANNEL = 'fastify_drizzle_auth_changes'

export interface WatchedTables {
  sessions: PgTable & SessionTableColumns
  users: PgTable
}

/** The table as the statements Drizzle builds name it: schema-qualified when it has a schema. */
function qualifiedName (table: PgTable): { qualified: string, name: string } {
  const { schema, name } = getTableConfig(table)
  return { qualified: schema === undefined ? quotedIdentifier(name) : `${quotedIdentifier(schema)}.${quotedIdentifier(name)}`, name }
}

/**
 * The function and the statement-level triggers that call `pg_notify` on every update of a session's
 * answered columns, every update of a user, and every delete or truncate of either (delivered when the
 * writing transaction commits, whoever wrote). The migrations ship this DDL for the default tables; the
 * opt-in sessionCache runs the same statements (idempotent) when it starts listening, for an application's
 * own users table and after a table rebuild dropped them.
 */
export function notifyTriggerStatements (tables: WatchedTables): string[] {
  const sessionColumns = watchedSessionColumns(tables.sessions).map(quotedIdentifier).join(', ')
  const watched: Array<[PgTable, string]> = [[tables.sessions, `UPDATE OF ${sessionColumns}`], [tables.users, 'UPDATE']]
  return [
    `CREATE OR REPLACE FUNCTION fastify_drizzle_auth_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('${CHANGES_CHANNEL}', ''); RETURN NULL; END $$;`,
    ...watched.map(([table, update]) => {
      const { qualified, name } = qualifiedName(table)
      return `CREATE OR REPLACE TRIGGER ${quotedIdentifier(`${name}_fda_notify`)} AFTER ${update} OR DELETE OR TRUNCATE ON ${qualified} FOR EACH STATEMENT EXECUTE FUNCTION fastify_drizzle_auth_notify();`
    })
  ]
}
