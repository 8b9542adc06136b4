import type Database from 'better-sqlite3'
import { quotedIdentifier } from '../quoted-identifier.ts'

const bump = 'update auth_changes set version = version + 1 where id = 1'

/**
 * Puts in place (idempotently) the triggers that move `auth_changes.version` on every update of a session's
 * answered columns, every update of a user, and every deletion of either, whoever writes: this connection,
 * another process, raw SQL. `REPLACE` deletes without running delete triggers (unless the writing connection
 * turned on recursive_triggers), so inserts are watched too: every user insert, and a session insert that
 * finds its id taken (a replacement; a new session cannot be remembered yet, so logins move nothing). They live in the schema, so they also cover tables made by drizzle-kit push or
 * an application's own users table. Returns the statement that reads the version, or undefined when the
 * triggers cannot be made (a read-only file, say): the caller then falls back to watching every commit.
 */
export function trackChanges (client: Database.Database, usersTable: string): Database.Statement<[], number> | undefined {
  try {
    client.transaction(() => {
      client.exec('create table if not exists `auth_changes` (`id` integer PRIMARY KEY NOT NULL, `version` integer NOT NULL)')
      client.exec('insert or ignore into auth_changes (id, version) values (1, 0)')
      const watched: Array<[string, string]> = [['auth_sessions', 'update of id, user_id, expires_at, revoked_at'], [usersTable, 'update']]
      for (const [table, update] of watched) {
        for (const [suffix, event] of [['updated', update], ['deleted', 'delete']]) {
          client.exec(`create trigger if not exists ${quotedIdentifier(`${table}_fda_${suffix}`)} after ${event} on ${quotedIdentifier(table)} begin ${bump}; end`)
        }
      }
      client.exec(`create trigger if not exists ${quotedIdentifier(`${usersTable}_fda_inserted`)} after insert on ${quotedIdentifier(usersTable)} begin ${bump}; end`)
      client.exec(`create trigger if not exists \`auth_sessions_fda_replaced\` before insert on \`auth_sessions\`
        when exists (select 1 from \`auth_sessions\` where \`id\` = new.\`id\`) begin ${bump}; end`)
    }).immediate()
    return client.prepare<[], number>('select version from auth_changes where id = 1').pluck(true)
  } catch {
    return undefined
  }
}
