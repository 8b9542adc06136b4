import { type AuthError, ConflictError, InvalidFieldError } from '../errors.ts'

/** True for a unique-constraint violation from either driver, also when Drizzle wraps it in a query error. */
export function isUniqueViolation (err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505') return true
  }
  return false
}

const SQLITE_KINDS: Record<string, Violation['kind']> = {
  SQLITE_CONSTRAINT_UNIQUE: 'unique',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique',
  SQLITE_CONSTRAINT_NOTNULL: 'not_null',
  SQLITE_CONSTRAINT_CHECK: 'check',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign_key'
}
const PG_KINDS: Record<string, Violation['kind']> = { 23505: 'unique', 23502: 'not_null', 23514: 'check', 23503: 'foreign_key' }

interface Violation {
  kind: 'unique' | 'not_null' | 'check' | 'foreign_key'
  /** The column (or constraint) the database named; never a value. */
  name: string | undefined
}

function violationOf (err: unknown): Violation | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const { code, column, constraint, detail } = e as { code?: unknown, column?: unknown, constraint?: unknown, detail?: unknown }
    const sqlite = typeof code === 'string' ? SQLITE_KINDS[code] : undefined
    if (sqlite !== undefined) {
      return { kind: sqlite, name: /constraint failed: (?:\w+\.)?(\w+)/.exec(e.message)?.[1] }
    }
    const pg = typeof code === 'string' ? PG_KINDS[code] : undefined
    if (pg !== undefined) {
      // The column from the detail (unique, foreign key) or the error's own fields (NOT NULL, CHECK).
      const key = /^Key \((\w+)\)/.exec(String(detail))?.[1]
      return { kind: pg, name: [key, column, constraint].find((part): part is string => typeof part === 'string') }
    }
  }
  return undefined
}

/**
 * What a refused users-table insert means for the caller: the email taken (409 `email_taken`), another unique
 * column taken (409 `field_taken`), or a value the table's constraints refuse (400 `invalid_field`). Anything
 * else (the database unreachable, a broken table) is not the caller's doing and stays an outage.
 */
export function userInsertRefusal (err: unknown, emailColumn = 'email'): AuthError | undefined {
  const violation = violationOf(err)
  if (violation === undefined) return undefined
  const name = violation.name ?? 'a column'
  if (violation.kind === 'unique') {
    // The email's own unique index: named by its column (SQLite, PostgreSQL's detail) or by its constraint.
    return violation.name === undefined || violation.name === emailColumn || new RegExp(`_${emailColumn}_(key|unique)$`).test(violation.name)
      ? new ConflictError('Email is already registered', 'email_taken')
      : new ConflictError(`\`${name}\` is already taken by another account`, 'field_taken')
  }
  const why = { not_null: 'is required', check: 'breaks a check of the users table', foreign_key: 'names a row that does not exist' }[violation.kind]
  return new InvalidFieldError(`\`${name}\` ${why}`)
}

/** What an insert into the users table raises: its refusal (see userInsertRefusal), or the error as it came. */
export function userInsertError (err: unknown): unknown {
  return userInsertRefusal(err) ?? err
}
