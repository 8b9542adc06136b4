import { randomBytes } from 'node:crypto'

/**
 * A refresh token of the earlier format (a bare 32-byte nonce, 6 of them the issue time): seeded sessions are
 * made after their tokens, and the plugin still takes such a token, rotating it into one that names its session.
 */
export function newRefreshToken (): string {
  const token = randomBytes(32)
  token.writeUIntBE(Date.now(), 0, 6)
  return token.toString('base64url')
}
