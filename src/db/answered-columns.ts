import type { Column } from 'drizzle-orm'

/** The session columns of both dialects' sessions tables that a hot-path answer is made of. */
export interface SessionTableColumns {
  id: Column
  userId: Column
  expiresAt: Column
  revokedAt: Column
}

/**
 * What the hot-path lookup selects from a session (the user's columns follow), declared once: the lookups
 * select exactly these, and the triggers that tell the memory an answer may have changed watch exactly these
 * (plus the id they are found by), so a column added to the answer cannot be left unwatched.
 */
export function answeredSessionColumns<T extends SessionTableColumns> (sessions: T): Pick<T, 'userId' | 'expiresAt' | 'revokedAt'> {
  return { userId: sessions.userId, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt }
}

/** The SQL names of the session columns whose update can change an answer. */
export function watchedSessionColumns (sessions: SessionTableColumns): string[] {
  return [sessions.id, ...Object.values(answeredSessionColumns(sessions))].map((column) => column.name)
}

/** What the session list shows of a session (never a token or a hash), declared once for both dialects. */
export function sessionListingColumns<T extends SessionTableColumns & Record<'createdAt' | 'lastUsedAt' | 'ip' | 'userAgent' | 'method', Column>> (
  sessions: T
): Pick<T, 'id' | 'createdAt' | 'lastUsedAt' | 'expiresAt' | 'ip' | 'userAgent' | 'method'> {
  const { id, createdAt, lastUsedAt, expiresAt, ip, userAgent, method } = sessions
  return { id, createdAt, lastUsedAt, expiresAt, ip, userAgent, method }
}
