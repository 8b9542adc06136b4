import type { PublicUserRecord, UserRecord } from '../db/store.ts'
import { AuthenticationError } from '../errors.ts'

/**
 * Extra columns of an application's own users table. Augment it to type them on `request.user`:
 * `declare module 'fastify-drizzle-auth' { interface AuthUserFields { nickname: string | null } }`
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuthUserFields {}

/** The columns every users table has (authUserColumns()), by their field names. */
export const BASE_USER_FIELDS = Object.freeze([
  'id', 'email', 'passwordHash', 'isActive', 'isVerified', 'lastLogin', 'joinedAt', 'createdAt', 'updatedAt'
] as const)

/** An authenticated user: the row without its password hash, plus the flags the seed page names. */
export type AuthUser = PublicUserRecord & AuthUserFields & {
  readonly isAuthenticated: true
  readonly isAnonymous: false
  readonly displayName: string
}

/** A new object for every call (a request may change its own user), from a row that has no password hash. */
export function toAuthUser (user: PublicUserRecord): AuthUser {
  return { ...user, isAuthenticated: true, isAnonymous: false, displayName: user.email } as AuthUser
}

/** The row without its password hash. */
export function withoutHash ({ passwordHash: _omitted, ...user }: UserRecord): PublicUserRecord {
  return user
}

/** The row an admin call on a user id found: an id no user has is an error, not a silent no-op. */
export function existingUser (row: UserRecord | undefined): UserRecord {
  if (row === undefined) throw new AuthenticationError('User not found', 'user_not_found')
  return row
}
