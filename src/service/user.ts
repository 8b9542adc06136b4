import type { UserRecord } from '../db/store.ts'

/**
 * Extra columns of an application's own users table. Augment it to type them on `request.user`:
 * `declare module 'fastify-drizzle-auth' { interface AuthUserFields { nickname: string | null } }`
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuthUserFields {}

/** An authenticated user: the row without its password hash, plus the flags the seed page names. */
export type AuthUser = Omit<UserRecord, 'passwordHash'> & AuthUserFields & {
  readonly isAuthenticated: true
  readonly isAnonymous: false
  readonly displayName: string
}

export function toAuthUser (row: UserRecord): AuthUser {
  const { passwordHash: _omitted, ...rest } = row
  return { ...rest, isAuthenticated: true, isAnonymous: false, displayName: row.email } as AuthUser
}
