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

// A frozen row is a remembered store answer that serves many requests: its hash-free shape is built once.
const shapes = new WeakMap<UserRecord, AuthUser>()

/** A new object for every call (a request may change its own user), never carrying the password hash. */
export function toAuthUser (row: UserRecord): AuthUser {
  let shape = shapes.get(row)
  if (shape === undefined) {
    const { passwordHash: _omitted, ...rest } = row
    shape = { ...rest, isAuthenticated: true, isAnonymous: false, displayName: row.email } as AuthUser
    if (Object.isFrozen(row)) shapes.set(row, shape)
  }
  return { ...shape }
}
