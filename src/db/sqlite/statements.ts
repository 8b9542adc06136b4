import { and, eq, isNull, sql } from 'drizzle-orm'
import { deviceTokens, loginAttempts, refreshTokens, sessions, type users } from './schema.ts'
import type { SqliteDatabase } from './store.ts'

const p = sql.placeholder

/**
 * The statements of the login and refresh paths, built and prepared once per store: each call only binds
 * values (no query building, no SQL parsing). Times bound to `*Ms` placeholders are epoch milliseconds
 * (Drizzle types a placeholder in `set()` only as raw SQL); the others are Dates, mapped by their column.
 */
export function prepareStatements (db: SqliteDatabase, usersTable: typeof users) {
  return { ...userStatements(db, usersTable), ...sessionStatements(db, usersTable), ...limitStatements(db), ...deviceStatements(db) }
}

export type PreparedStatements = ReturnType<typeof prepareStatements>

function userStatements (db: SqliteDatabase, usersTable: typeof users) {
  return {
    userByEmail: db.select().from(usersTable).where(eq(usersTable.email, p('email'))).prepare(),
    userById: db.select().from(usersTable).where(eq(usersTable.id, p('id'))).prepare(),

    replacePasswordHash: db.update(usersTable).set({ passwordHash: sql`${p('newHash')}`, updatedAt: sql`${p('nowMs')}` })
      .where(and(eq(usersTable.id, p('userId')), eq(usersTable.passwordHash, p('oldHash')))).prepare()
  }
}

function sessionStatements (db: SqliteDatabase, usersTable: typeof users) {
  return {
    insertSession: db.insert(sessions).values({
      id: p('id'),
      userId: p('userId'),
      createdAt: p('createdAt'),
      lastUsedAt: p('createdAt'),
      expiresAt: p('expiresAt'),
      userAgent: p('userAgent'),
      method: p('method'),
      ip: p('ip')
    }).prepare(),
    insertRefreshToken: db.insert(refreshTokens).values({
      tokenHash: p('tokenHash'), sessionId: p('sessionId'), generation: p('generation'), createdAt: p('createdAt')
    }).prepare(),
    // Stamped only while the credentials a login checked are still the user's and the user is active.
    stampLastLogin: db.update(usersTable).set({ lastLogin: sql`${p('nowMs')}` }).where(and(
      eq(usersTable.id, p('userId')),
      sql`${usersTable.passwordHash} is ${p('passwordHash')}`,
      sql`${usersTable.isActive} = 1`
    )).prepare(),

    // Only an unused token of a live session of an active user is consumed: the statement decides, so two
    // callers cannot both win.
    consumeRefreshToken: db.update(refreshTokens)
      .set({ usedAt: sql`${p('nowMs')}` })
      .where(and(
        eq(refreshTokens.tokenHash, p('tokenHash')),
        isNull(refreshTokens.usedAt),
        sql`exists (select 1 from ${sessions} join ${usersTable} on ${usersTable.id} = ${sessions.userId}
          where ${sessions.id} = ${refreshTokens.sessionId} and ${sessions.revokedAt} is null
          and ${sessions.expiresAt} > ${p('nowMs')} and ${sessions.lastUsedAt} > ${p('idleCutoffMs')} and ${usersTable.isActive} = 1)`
      ))
      .returning({ sessionId: refreshTokens.sessionId, generation: refreshTokens.generation })
      .prepare(),
    // Rows per session stay at two: the new token and the one just used (for the grace window's answer).
    dropOlderRefreshTokens: db.delete(refreshTokens)
      .where(and(eq(refreshTokens.sessionId, p('sessionId')), sql`${refreshTokens.generation} < ${p('generation')}`)).prepare(),
    touchSession: db.update(sessions).set({ lastUsedAt: sql`${p('nowMs')}`, ip: sql`coalesce(${p('ip')}, ${sessions.ip})` })
      .where(eq(sessions.id, p('sessionId'))).returning({ userId: sessions.userId, expiresAt: sessions.expiresAt, method: sessions.method }).prepare(),
    spentRefreshToken: db.select({
      generation: refreshTokens.generation,
      usedAt: refreshTokens.usedAt,
      lastUsedAt: sessions.lastUsedAt,
      session: { id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt },
      userActive: sql<number | null>`${usersTable.isActive}`
    }).from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .leftJoin(usersTable, eq(usersTable.id, sessions.userId))
      .where(eq(refreshTokens.tokenHash, p('tokenHash')))
      .prepare(),
    latestGeneration: db.select({ generation: sql<number>`max(${refreshTokens.generation})` }).from(refreshTokens)
      .where(eq(refreshTokens.sessionId, p('sessionId'))).prepare(),
    refreshTokenSession: db.select({ sessionId: refreshTokens.sessionId }).from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, p('tokenHash'))).prepare(),
    revokeSession: db.update(sessions).set({ revokedAt: sql`${p('nowMs')}`, revokeReason: sql`${p('reason')}` })
      .where(and(eq(sessions.id, p('sessionId')), isNull(sessions.revokedAt))).returning({ userId: sessions.userId }).prepare()
  }
}

function limitStatements (db: SqliteDatabase) {
  return {
    liveWindow: db.select({ count: loginAttempts.count, resetAt: loginAttempts.resetAt }).from(loginAttempts)
      .where(and(eq(loginAttempts.key, p('key')), sql`${loginAttempts.resetAt} > ${p('nowMs')}`)).prepare(),
    // A window that has ended starts again at 1; otherwise the count goes up. One statement per key.
    hitWindow: db.insert(loginAttempts).values({ key: p('key'), count: 1, resetAt: p('resetAt') })
      .onConflictDoUpdate({
        target: loginAttempts.key,
        set: {
          count: sql`case when ${loginAttempts.resetAt} <= ${p('nowMs')} then 1 else ${loginAttempts.count} + 1 end`,
          resetAt: sql`case when ${loginAttempts.resetAt} <= ${p('nowMs')} then ${p('resetAtMs')} else ${loginAttempts.resetAt} end`
        }
      })
      .returning({ count: loginAttempts.count, resetAt: loginAttempts.resetAt })
      .prepare(),
    clearWindow: db.delete(loginAttempts).where(eq(loginAttempts.key, p('key'))).prepare(),
    releaseWindow: db.update(loginAttempts).set({ count: sql`max(${loginAttempts.count} - 1, 0)` })
      .where(eq(loginAttempts.key, p('key'))).prepare()
  }
}

function deviceStatements (db: SqliteDatabase) {
  // A device token of this user, not revoked, not expired and under its failure limit: what the login's
  // peek reads and its count updates.
  const liveDevice = and(
    eq(deviceTokens.tokenHash, p('tokenHash')),
    eq(deviceTokens.userId, p('userId')),
    isNull(deviceTokens.revokedAt),
    sql`${deviceTokens.expiresAt} > ${p('nowMs')}`,
    sql`${deviceTokens.failures} < ${p('max')}`
  )
  return {
    insertDeviceToken: db.insert(deviceTokens).values({
      tokenHash: p('tokenHash'), userId: p('userId'), createdAt: p('createdAt'), lastUsedAt: p('createdAt'), expiresAt: p('expiresAt')
    }).prepare(),
    liveDeviceToken: db.select({ userId: deviceTokens.userId }).from(deviceTokens).where(liveDevice).prepare(),
    hitDeviceToken: db.update(deviceTokens).set({ failures: sql`${deviceTokens.failures} + 1` }).where(liveDevice).prepare(),
    resetDeviceToken: db.update(deviceTokens).set({ failures: 0, lastUsedAt: sql`${p('nowMs')}` })
      .where(eq(deviceTokens.tokenHash, p('tokenHash'))).prepare(),
    revokeSpentDeviceToken: db.update(deviceTokens).set({ revokedAt: sql`${p('nowMs')}` })
      .where(and(eq(deviceTokens.tokenHash, p('tokenHash')), isNull(deviceTokens.revokedAt), sql`${deviceTokens.failures} >= ${p('max')}`))
      .prepare()
  }
}
