import assert from 'node:assert/strict'
import type { AnyAuthStore, NewSession, UserRecord } from '../db/store.ts'

/** One behaviour every AuthStore must have, checked on a fresh store over an empty, migrated database. */
export interface StoreCase {
  readonly name: string
  run (store: AnyAuthStore): Promise<void>
}

export const HOUR = 3600_000

/** The users of the kit have no password: a session is made only while that still holds. */
export const NO_PASSWORD = { passwordHash: null }

/** A whole second, so every dialect's timestamp precision keeps it exactly. */
export function wholeSecond (offsetMs = 0): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000 + offsetMs)
}

export function session (id: string, userId: string, now: Date, ttl = HOUR): NewSession {
  return { id, userId, createdAt: now, expiresAt: new Date(now.getTime() + ttl), userAgent: 'ua', ip: '127.0.0.1' }
}

export async function user (store: AnyAuthStore, email: string): Promise<UserRecord> {
  return store.users.create({ email, passwordHash: null })
}

/** The fields `expected` names, compared deeply (the rest of `actual` is free). */
export function assertFields (actual: unknown, expected: Record<string, unknown>, message?: string): void {
  assert.ok(actual !== null && typeof actual === 'object', message ?? 'expected an object')
  const picked = Object.fromEntries(Object.keys(expected).map((key) => [key, (actual as Record<string, unknown>)[key]]))
  assert.deepStrictEqual(picked, expected, message)
}

/** The error a promise rejects with (it must reject). */
export async function rejection (promise: Promise<unknown>, message: string): Promise<unknown> {
  return promise.then(() => assert.fail(`${message}: it resolved`), (err: unknown) => err)
}
