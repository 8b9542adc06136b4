import type Database from 'better-sqlite3'
import { getTableConfig } from 'drizzle-orm/sqlite-core'
import { watchedSessionColumns } from '../answered-columns.ts'
import { quotedIdentifier } from '../quoted-identifier.ts'
import { authChanges, sessions } from './schema.ts'

const changes = getTableConfig(authChanges).name
const bump = `update ${quotedIdentifier(changes)} set version = version + 1 where id = 1`

/**
 * The triggers that move `auth_changes.version` on every update of a session's answered columns, every update
 * of a user, and every deletion of either, whoever writes: this connection, another process, raw SQL.
 * `REPLACE` deletes without running delete triggers (unless the writing connection turned on
 * recursive_triggers), so inserts are watched too: every user insert, and a session insert that finds its id
 * taken (a replacement; a new session cannot be remembered yet, so logins move nothing). The migrations ship
 * this DDL for the default users table; the store runs the same statements (idempotent) when it opens, for
 * an application's own users table and after a table rebuild dropped them.
 */
export function changeTriggerStatements (usersTable: string): string[] {
  const sessionsTable = getTableConfig(sessions).name
  const id = quotedIdentifier(sessions.id.name)
  const trigger = (table: string, suffix: string, event: string, when = ''): string =>
    `CREATE TRIGGER IF NOT EXISTS ${quotedIdentifier(`${table}_fda_${suffix}`)} ${event} ON ${quotedIdentifier(table)}${when} BEGIN ${bump}; END;`
  return [
    trigger(sessionsTable, 'updated', `AFTER UPDATE OF ${watchedSessionColumns(sessions).map(quotedIdentifier).join(', ')}`),
    trigger(sessionsTable, 'deleted', 'AFTER DELETE'),
    trigger(sessionsTable, 'replaced', 'BEFORE INSERT', ` WHEN EXISTS (SELECT 1 FROM ${quotedIdentifier(sessionsTable)} WHERE ${id} = new.${id})`),
    trigger(usersTable, 'updated', 'AFTER UPDATE'),
    trigger(usersTable, 'deleted', 'AFTER DELETE'),
    trigger(usersTable, 'inserted', 'AFTER INSERT')
  ]
}

/**
 * Puts the version row and the triggers in place (idempotently) and moves the version. Returns false when they cannot be made (a
 * read-only file, say): the caller then watches every commit instead.
 */
export function installChangeTriggers (client: Database.Database, usersTable: string): boolean {
  try {
    client.transaction(() => {
      client.exec(`CREATE TABLE IF NOT EXISTS ${quotedIdentifier(changes)} (\`id\` integer PRIMARY KEY NOT NULL, \`version\` integer NOT NULL)`)
      client.exec(`INSERT OR IGNORE INTO ${quotedIdentifier(changes)} (id, version) VALUES (1, 0)`)
      for (const statement of changeTriggerStatements(usersTable)) client.exec(statement)
      // Writes made while a trigger was missing (a table rebuilt) moved nothing: every process forgets now.
      client.exec(bump)
    }).immediate()
    return true
  } catch {
    return false
  }
}
