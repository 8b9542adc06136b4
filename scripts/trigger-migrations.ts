// Writes the change-trigger migrations (drizzle/sqlite/0004_change_triggers.sql, drizzle/pg/0003_change_triggers.sql)
// from the generators the stores run, so the shipped DDL and the re-install after a table rebuild cannot
// differ; then embeds them (scripts/embed-migrations.mjs). test/migrations.test.ts fails when a file is stale.
import { writeFileSync } from 'node:fs'
import { changeTriggerStatements } from '../src/db/sqlite/change-triggers.ts'
import { notifyTriggerStatements } from '../src/db/pg/notify-triggers.ts'
import { sessions as pgSessions, users as pgUsers } from '../src/db/pg/schema.ts'
import { users as sqliteUsers } from '../src/db/sqlite/schema.ts'
import { getTableConfig } from 'drizzle-orm/sqlite-core'

export const TRIGGER_MIGRATIONS = {
  'drizzle/sqlite/0004_change_triggers.sql': changeTriggerStatements(getTableConfig(sqliteUsers).name),
  'drizzle/pg/0003_change_triggers.sql': notifyTriggerStatements({ sessions: pgSessions, users: pgUsers })
}

export function migrationText (statements: readonly string[]): string {
  return `${statements.join('\n--> statement-breakpoint\n')}\n`
}

if (process.argv[1]?.endsWith('trigger-migrations.ts')) {
  for (const [file, statements] of Object.entries(TRIGGER_MIGRATIONS)) writeFileSync(new URL(`../${file}`, import.meta.url), migrationText(statements))
}
