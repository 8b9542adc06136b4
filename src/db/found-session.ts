import type { Column } from 'drizzle-orm'
import type { FoundSession, PublicUserRecord } from './store.ts'

/**
 * One hot-path row (as an array: the session's user id, expiry and revocation at `first`, then the user's
 * columns) turned into the frozen answer, each value mapped by its column's own driver mapping. Shared by
 * both dialects' lookups, which run their statements raw for speed.
 */
export function toFoundSession (
  sessionId: string, row: unknown[], first: number, userColumns: ReadonlyArray<[string, Column]>, expiresAt: Column, revokedAt: Column
): FoundSession {
  return withUser(sessionId, row, first, toPublicUser(row, first + 3, userColumns), expiresAt, revokedAt)
}

/** The user's columns of a raw row, from `first` on, as the frozen record a lookup answers with. */
export function toPublicUser (row: unknown[], first: number, userColumns: ReadonlyArray<[string, Column]>): PublicUserRecord {
  const user: Record<string, unknown> = {}
  for (let i = 0; i < userColumns.length; i++) {
    const value = row[first + i]
    user[userColumns[i][0]] = value === null ? null : userColumns[i][1].mapFromDriverValue(value)
  }
  return Object.freeze(user) as unknown as PublicUserRecord
}

/** The session's user id, expiry and revocation at `first` of a raw row, with its (already mapped) user. */
export function withUser (
  sessionId: string, row: unknown[], first: number, user: PublicUserRecord, expiresAt: Column, revokedAt: Column
): FoundSession {
  const revoked = row[first + 2]
  return Object.freeze({
    session: Object.freeze({
      id: sessionId,
      userId: row[first] as string,
      expiresAt: expiresAt.mapFromDriverValue(row[first + 1]) as Date,
      revokedAt: revoked === null ? null : revokedAt.mapFromDriverValue(revoked) as Date
    }),
    user
  })
}
