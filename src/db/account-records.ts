/**
 * The rows and answers of the accounts facet (provider identities and sign-in flows). Imports nothing: part
 * of the contract an application can implement from these types alone.
 */
/** A provider identity (OpenID Connect or OAuth 2.0) linked to a user: never its tokens. */
export interface AccountRecord {
  id: string
  userId: string
  provider: string
  /** The provider's stable id of the person (`sub`, or GitHub's numeric id). */
  subject: string
  /** What the provider last said of the address. */
  email: string | null
  emailVerified: boolean
  createdAt: Date
  lastLoginAt: Date | null
}

export interface NewAccount {
  id: string
  provider: string
  subject: string
  email: string | null
  emailVerified: boolean
  /** The provider's tokens, sealed by the service (only when the application keeps them). */
  tokens: string | null
  createdAt: Date
}

/** What a sign-in learnt from the provider this time, stamped on its account. */
export interface AccountSighting {
  email: string | null
  emailVerified: boolean
  /** Sealed tokens to keep; undefined leaves the stored ones as they are. */
  tokens?: string | null
  now: Date
}

/**
 * Linking a provider identity to an existing user. `linked`: written. `already_linked`: this identity is
 * the user's already. `linked_elsewhere`: it is another user's. `provider_taken`: the user has another
 * identity at this provider. `refused`: the user's row did not meet the condition (gone, inactive, or, for a
 * link by email, no longer that verified address).
 */
export type LinkOutcome = 'linked' | 'already_linked' | 'linked_elsewhere' | 'provider_taken' | 'refused'

/** Unlinking: `last_sign_in_method` when the user would be left with no password and no other identity. */
export type UnlinkOutcome = 'unlinked' | 'not_linked' | 'last_sign_in_method'

/** A provider sign-in in flight, stored when it leaves for the provider. */
export interface NewOAuthFlow {
  id: string
  /** SHA-256 of the `state` sent to the provider. */
  stateHash: string
  provider: string
  codeVerifier: string
  nonce: string
  redirectTo: string
  /** The signed-in user linking this provider; null for a sign-in. */
  linkUserId: string | null
  /** A bearer client's own S256 challenge, which its completion code is bound to. */
  clientChallenge: string | null
  createdAt: Date
  expiresAt: Date
}

/** A consumed flow, as the callback needs it. */
export type OAuthFlowRecord = Omit<NewOAuthFlow, 'stateHash' | 'createdAt' | 'expiresAt'>

/**
 * The one-time code a bearer client exchanges (stored as its SHA-256 hash): for its tokens after a sign-in,
 * or, carrying `profile`, to finish a link as the user who started it.
 */
export interface CompletionCode {
  flowId: string
  codeHash: string
  userId: string
  /** The identity signed in with; null for a link still to be made. */
  accountId: string | null
  /** A link's provider identity (JSON), linked when the code is exchanged. */
  profile?: string
  expiresAt: Date
}

export interface ConsumedCompletion {
  userId: string
  accountId: string | null
  provider: string
  profile: string | null
}
