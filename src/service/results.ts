import type { AccessClaims } from './tokens.ts'
import type { AuthUser } from './user.ts'

export interface TokenPair {
  accessToken: string
  refreshToken: string
  tokenType: 'bearer'
  /** Access-token lifetime in seconds. */
  expiresIn: number
  /** The session the tokens belong to. */
  sessionId: string
  /** When the session (and so its refresh token) ends: the refresh cookie lives until then. */
  sessionExpiresAt: Date
}

export interface LoginResult extends TokenPair {
  user: AuthUser
  sessionId: string
  tokens: TokenPair
  /**
   * The device token to keep for this account on this device and send with its next logins: the one the
   * login presented when it was honoured, a new one otherwise.
   */
  deviceToken: string
}

export interface LoginOptions {
  ip?: string | null
  userAgent?: string | null | undefined
  /** Extra claims for the access token (the reserved ones cannot be overridden). */
  claims?: Record<string, unknown>
  /** A device token an earlier login of this account returned: exempts the login from the address and account limits. */
  deviceToken?: string | null
}

export interface RegisterOptions {
  /** The client's address: registrations are limited per address (none counted without one). */
  ip?: string | null
  /** Where the verification link's writing and sending goes (with `mailer`); default: after the current turn. */
  after?: (work: () => Promise<void>) => void
}

export interface PasswordChangeOptions {
  /** The session the change was made from: kept, while every other one is revoked. */
  keepSessionId?: string | null
  /** The client's address, for the attempt limits on the current password. */
  ip?: string | null
}

export interface VerifiedAccess {
  user: AuthUser
  sessionId: string
  claims: AccessClaims
}

/** Called with the verified access, or with the AuthError that refused it; synchronously when the store is. */
export type VerifyCallback = (err: Error | null, verified?: VerifiedAccess) => void
