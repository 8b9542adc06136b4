import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'

const LEGACY_SHAPE = /^[A-Za-z0-9_-]{43}$/u
const SHAPE = /^([A-Za-z0-9_-]{1,172})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})$/u

/** What a presented refresh token says of itself, before the store is asked. */
export type PresentedRefreshToken =
  | { format: 'named', sessionId: string }
  | { format: 'legacy' }

/**
 * Refresh tokens that name their session: `base64url(session id).nonce.mac`. The nonce is 32 bytes (6 of
 * issue time, 26 random: the secret); the mac, HMAC-SHA256 under a key derived from `secret` for this one
 * use (truncated to 128 bits), proves the plugin issued the token for that session. Only a key of the whole
 * token is stored, and only for the current and the previous token of a session: a genuine token of the
 * session that matches neither is an older one, replayed, which ends the session. A token of the earlier
 * format (a bare nonce, from before the upgrade) is still looked up by its key and rotated into this one.
 */
export class RefreshTokens {
  readonly #key: Buffer

  readonly #clock: () => number

  constructor (secret: Buffer, clock: () => number) {
    this.#clock = clock
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'fastify-drizzle-auth', 'refresh token mac v1', 32))
  }

  issue (sessionId: string): string {
    const nonce = randomBytes(32)
    nonce.writeUIntBE(this.#clock(), 0, 6)
    const body = `${Buffer.from(sessionId).toString('base64url')}.${nonce.toString('base64url')}`
    return `${body}.${this.#mac(body).toString('base64url')}`
  }

  /** The token's own claim (checked in constant time), or undefined when it is no token this plugin issued. */
  read (token: unknown): PresentedRefreshToken | undefined {
    if (typeof token !== 'string') return undefined
    if (LEGACY_SHAPE.test(token)) return { format: 'legacy' }
    const match = SHAPE.exec(token)
    if (match === null) return undefined
    const given = Buffer.from(match[3], 'base64url')
    const expected = this.#mac(`${match[1]}.${match[2]}`)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
    return { format: 'named', sessionId: Buffer.from(match[1], 'base64url').toString() }
  }

  #mac (body: string): Buffer {
    return createHmac('sha256', this.#key).update(body).digest().subarray(0, 16)
  }
}
