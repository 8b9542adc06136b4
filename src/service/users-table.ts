import { getTableColumns, type Table } from 'drizzle-orm'
import { ConfigurationError } from '../errors.ts'

/** What each column `authUserColumns()` makes holds, as Drizzle types it. */
const EXPECTED: Record<string, string> = {
  id: 'string',
  email: 'string',
  passwordHash: 'string',
  isActive: 'boolean',
  isVerified: 'boolean',
  lastLogin: 'date',
  joinedAt: 'date',
  createdAt: 'date',
  updatedAt: 'date'
}

/** Properties `request.user` sets itself: a column of that name would be stored but never read back. */
const SHADOWED = ['isAuthenticated', 'isAnonymous', 'displayName'] as const

/**
 * Checks, once, that an application's users table has what the plugin reads and writes, with the types it
 * expects, and no column the user object would hide; each failure says how to build the table. Returns it.
 */
export function checkUsersTableShape<T extends Table | undefined> (table: T): T {
  if (table === undefined) return table
  const columns = getTableColumns(table)
  const problems: string[] = []
  for (const [name, type] of Object.entries(EXPECTED)) {
    const column = columns[name]
    if (column === undefined) problems.push(`'${name}' is missing`)
    else if (column.dataType !== type) problems.push(`'${name}' is a ${column.dataType}, not a ${type}`)
  }
  if (problems.length > 0) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`usersTable\` is not a users table the plugin can use (${problems.join('; ')}): ` +
      "build it from the plugin's columns, e.g. sqliteTable('app_users', { ...authUserColumns(), nickname: text('nickname') }) " +
      "with authUserColumns from 'fastify-drizzle-auth/sqlite' (or pgTable and '/pg')")
  }
  for (const name of SHADOWED) {
    if (columns[name] !== undefined) {
      throw new ConfigurationError(`fastify-drizzle-auth: \`usersTable\` has a column '${name}', which request.user sets itself ` +
        `(so the stored value would never be read back): rename the property, e.g. '${name === 'displayName' ? 'fullName' : `${name}Flag`}'`)
    }
  }
  return table
}
