/** What both dialects' account stores select and decide alike. */
import { and, type Column, isNull, lte, or, type SQL } from 'drizzle-orm'
import type { LinkOutcome } from './account-records.ts'

type AccountKey = 'id' | 'userId' | 'provider' | 'subject' | 'email' | 'emailVerified' | 'createdAt' | 'lastLoginAt'
type FlowKey = 'id' | 'provider' | 'codeVerifier' | 'nonce' | 'redirectTo' | 'linkUserId' | 'clientChallenge'

/** An identity as the service sees it: never its sealed tokens. */
export function accountColumns<T extends Record<AccountKey, Column>> (t: T): Pick<T, AccountKey> {
  const { id, userId, provider, subject, email, emailVerified, createdAt, lastLoginAt } = t
  return { id, userId, provider, subject, email, emailVerified, createdAt, lastLoginAt }
}

/** What a callback reads back from the flow it consumed. */
export function flowColumns<T extends Record<FlowKey, Column>> (t: T): Pick<T, FlowKey> {
  const { id, provider, codeVerifier, nonce, redirectTo, linkUserId, clientChallenge } = t
  return { id, provider, codeVerifier, nonce, redirectTo, linkUserId, clientChallenge }
}

/** A link's answer decided by the identities already there; undefined when the link may be written. */
export function linkOutcome (userId: string, holder: string | undefined, userHasProvider: boolean): LinkOutcome | undefined {
  if (holder !== undefined) return holder === userId ? 'already_linked' : 'linked_elsewhere'
  return userHasProvider ? 'provider_taken' : undefined
}

/** Flows to purge: past their own lifetime and their completion code's (a live code outlives its flow by up to a minute). */
export function endedFlows (t: Record<'expiresAt' | 'codeExpiresAt', Column>, now: Date): SQL | undefined {
  return and(lte(t.expiresAt, now), or(isNull(t.codeExpiresAt), lte(t.codeExpiresAt, now)))
}
