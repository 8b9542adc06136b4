import { getTableColumns, getTableName, type Table } from 'drizzle-orm'
import { ConfigurationError } from '../errors.ts'

/**
 * Compares an application's users table as the database has it with its Drizzle declaration, when the store
 * opens: a table never created, or created without the plugin's columns, is named with what to do, instead of
 * failing as a query error (a 503) on the first request.
 */
export function checkUsersTableInDatabase (table: Table, actual: readonly string[], qualifiedName = getTableName(table)): void {
  if (actual.length === 0) {
    throw new ConfigurationError(`fastify-drizzle-auth: the users table '${qualifiedName}' does not exist in this database: create it with ` +
      'your own migrations (drizzle-kit generate + migrate, or push, with the filter of README "Migrations in your app") before the plugin opens it')
  }
  const missing = Object.values(getTableColumns(table)).map((column) => column.name).filter((name) => !actual.includes(name))
  if (missing.length > 0) {
    throw new ConfigurationError(`fastify-drizzle-auth: the users table '${qualifiedName}' has no column ${missing.map((name) => `'${name}'`).join(', ')}: ` +
      'apply the migration that adds it (the table must match its Drizzle declaration, built with ...authUserColumns())')
  }
}
