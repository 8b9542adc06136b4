import { getTableColumns, type InferInsertModel, type Table } from 'drizzle-orm'
import type { ResolvedConfig } from './config.ts'
import { InvalidArgumentError, InvalidFieldError } from '../errors.ts'
import { objectArgument } from './arguments.ts'
import { type AuthUserFields, BASE_USER_FIELDS } from './user.ts'

/** Columns `register()` never takes from its `fields`: the service sets them. */
const PROTECTED_USER_FIELDS = ['id', 'email', 'passwordHash', 'createdAt', 'updatedAt'] as const
export type ProtectedUserField = typeof PROTECTED_USER_FIELDS[number]

/** The default table's columns a caller may set at registration. */
interface BaseRegisterFields {
  isActive: boolean
  isVerified: boolean
  lastLogin: Date | null
  joinedAt: Date
}

/**
 * What `register(email, password, fields)` takes: the insert columns of the users table the service was built
 * with, minus the ones it sets itself; with the default table, its settable columns and `AuthUserFields`.
 */
// Spelled as a key-remapping mapped type: `Partial<Omit<...>>` of a generic table loses the excess-property check.
export type RegisterFields<TUsers extends Table | undefined> = TUsers extends Table
  ? { [K in keyof InferInsertModel<TUsers> as K extends ProtectedUserField ? never : K]?: InferInsertModel<TUsers>[K] }
  : Partial<BaseRegisterFields & AuthUserFields>

/**
 * The columns to write besides email and hash. The protected ones are ignored; a name that is not a column of
 * the users table is an InvalidArgumentError (a misspelling would otherwise be dropped without a word). With a
 * store given directly, its table is not known here, and the store's insert decides.
 */
export function registerFieldsArgument (fields: unknown, config: Pick<ResolvedConfig, 'usersTable' | 'store'>): Record<string, unknown> {
  const columns: readonly string[] | undefined = config.usersTable !== undefined
    ? Object.keys(getTableColumns(config.usersTable))
    : config.store === undefined ? BASE_USER_FIELDS : undefined
  const extra: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(objectArgument(fields as object, 'fields'))) {
    if ((PROTECTED_USER_FIELDS as readonly string[]).includes(key)) continue
    if (columns !== undefined && !columns.includes(key)) {
      throw new InvalidArgumentError(`\`fields.${key}\` is not a column of the users table (its columns: ${columns.join(', ')})`)
    }
    extra[key] = value
  }
  return extra
}

/**
 * The users table's columns a registration must be given: NOT NULL, without a default, and not set by the
 * service itself. Leaving one out would otherwise reach the database as a constraint failure.
 */
export function requiredUserColumns (table: Table): string[] {
  return Object.entries(getTableColumns(table))
    .filter(([name, column]) => column.notNull && !column.hasDefault && !(BASE_USER_FIELDS as readonly string[]).includes(name))
    .map(([name]) => name)
}

/** Names each required column `fields` lacks (InvalidArgumentError, 400), before anything is hashed or written. */
export function checkRequiredFields (fields: Record<string, unknown>, table: Table | undefined): void {
  if (table === undefined) return
  const missing = requiredUserColumns(table).filter((name) => fields[name] === undefined || fields[name] === null)
  if (missing.length > 0) {
    throw new InvalidFieldError(`Required, as NOT NULL columns of the users table without a default: ${missing.map((name) => `\`fields.${name}\``).join(', ')}`)
  }
}
