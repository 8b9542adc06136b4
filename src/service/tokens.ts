import { createHash, randomBytes } from 'node:crypto'
import { createSigner, createVerifier, TokenError as JwtError } from 'fast-jwt'
import { BoundedCache } from '../lib/bounded-cache.ts'
import { TokenExpiredError, TokenInvalidError } from '../errors.ts'
import { checkRegisteredClaims, type ClaimRules, pinnedHmacCheck } from './pinned-jwt.ts'

export type JwtAlgorithm = 'HS256' | 'HS384' | 'HS512'

export interface TokenSettings {
  secret: Buffer
  algorithm: JwtAlgorithm
  issuer: string | undefined
  audience: string | undefined
  accessTokenTtl: number
  clockSkewSeconds: number
  clock: () => number
}

/** The claims of a verified access token. */
export interface AccessClaims {
  sub: string
  sid: string
  jti: string
  typ: 'access'
  iat: number
  exp: number
  iss?: string
  aud?: string | string[]
  /** How the session was made: `pwd` (password) or `oauth` (an identity provider); absent in tokens signed before it was added. */
  amr?: string[]
  [claim: string]: unknown
}

/** Longer bearer values are refused before any parsing (a JWT of ours is a few hundred bytes). */
export const MAX_ACCESS_TOKEN_LENGTH = 4096
/** What a token may look like where it travels (an RFC 6750 b64token): the bearer header and the cookies. */
export const TOKEN_SHAPE = '[A-Za-z0-9\\-._~+/]+=*'
const DEVICE_TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/u
/** Header parameters that point at keys: never honoured, since the key is pinned. */
const KEY_HEADERS = ['jku', 'jwk', 'x5u', 'x5c', 'kid', 'crit']
const VERIFIED_CACHE_SIZE = 10_000
const RESERVED_CLAIMS = new Set(['sub', 'sid', 'jti', 'typ', 'iat', 'exp', 'nbf', 'iss', 'aud', 'amr'])

/**
 * Signs and verifies access tokens with fast-jwt (the engine of @fastify/jwt), so the service needs no
 * Fastify. Signer and verifiers are built once; the algorithm list is pinned to the one configured.
 */
export class AccessTokenCodec {
  readonly #settings: TokenSettings
  readonly #sign
  readonly #verify
  readonly #verifyIgnoringExpiry
  readonly #pinned
  readonly #rules: ClaimRules
  readonly #pinnedHeader: Record<string, unknown>
  /**
   * Tokens already verified, by their exact string: a repeat skips the HMAC and JSON work but not the expiry
   * check, and revocation is never cached (the session is looked up every time). Bounded (bounded-cache.ts).
   */
  readonly #verified = new BoundedCache<string, AccessClaims>(VERIFIED_CACHE_SIZE)

  constructor (settings: TokenSettings) {
    this.#settings = settings
    const { secret, algorithm, issuer, audience, accessTokenTtl, clockSkewSeconds } = settings
    this.#sign = createSigner({
      key: secret,
      algorithm,
      expiresIn: accessTokenTtl * 1000,
      ...(issuer === undefined ? {} : { iss: issuer }),
      ...(audience === undefined ? {} : { aud: audience })
    })
    const required = ['exp', 'iat', 'sub', 'sid', 'jti', 'typ']
    if (issuer !== undefined) required.push('iss')
    if (audience !== undefined) required.push('aud')
    const common = {
      key: secret,
      algorithms: [algorithm],
      complete: true,
      requiredClaims: required,
      clockTolerance: clockSkewSeconds * 1000,
      ...(issuer === undefined ? {} : { allowedIss: issuer }),
      ...(audience === undefined ? {} : { allowedAud: audience })
    }
    this.#verify = createVerifier(common)
    this.#verifyIgnoringExpiry = createVerifier({ ...common, ignoreExpiration: true })
    // The signer's own header segment, as it writes it: only tokens with exactly that one take the pinned path.
    const headerSegment = this.#sign({}).split('.')[0]
    this.#pinnedHeader = JSON.parse(Buffer.from(headerSegment, 'base64url').toString('utf8')) as Record<string, unknown>
    this.#pinned = pinnedHmacCheck(secret, algorithm, headerSegment)
    this.#rules = { required, clockToleranceMs: clockSkewSeconds * 1000, issuer, audience }
  }

  /** The service's time (`clock`), in milliseconds since the epoch. */
  now (): number {
    return this.#settings.clock()
  }

  get ttl (): number {
    return this.#settings.accessTokenTtl
  }

  /** How many verified tokens are remembered now (at most 10,000; the older half goes whole). */
  get rememberedTokens (): number {
    return this.#verified.size
  }

  /** `amr`: how the session was made (RFC 8176 values), signed as the `amr` claim. */
  sign (sub: string, sid: string, extraClaims: Record<string, unknown> = {}, amr: readonly string[] = ['pwd']): string {
    const claims: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(extraClaims)) {
      if (!RESERVED_CLAIMS.has(name)) claims[name] = value
    }
    // iat in seconds with its fraction: fast-jwt floors it and counts exp from it, as from its own clock.
    return this.#sign({ ...claims, sub, sid, amr, typ: 'access', jti: randomBytes(16).toString('base64url'), iat: this.#settings.clock() / 1000 })
  }

  /** Verifies signature and every claim; raises TokenExpiredError or TokenInvalidError. */
  verify (token: string, { ignoreExpiration = false } = {}): AccessClaims {
    if (typeof token !== 'string' || token.length > MAX_ACCESS_TOKEN_LENGTH) {
      throw new TokenInvalidError()
    }
    const known = ignoreExpiration ? undefined : this.#verified.get(token)
    if (known !== undefined) {
      if ((known.exp + this.#settings.clockSkewSeconds) * 1000 > this.#settings.clock()) return known
      this.#verified.delete(token)
      throw new TokenExpiredError()
    }
    const claims = Object.freeze(this.#checkClaims(...this.#decode(token, ignoreExpiration)))
    if (!ignoreExpiration) {
      this.#verified.set(token, claims)
    }
    return claims
  }

  /** Header and payload, signature and registered claims checked: by pinned-jwt.ts for our own header, else by fast-jwt. */
  #decode (token: string, ignoreExpiration: boolean): [Record<string, unknown>, Record<string, unknown>] {
    const payload = this.#pinned(token)
    if (payload !== undefined) {
      checkRegisteredClaims(payload, this.#rules, ignoreExpiration, this.#settings.clock())
      return [this.#pinnedHeader, payload]
    }
    let decoded: { header: Record<string, unknown>, payload: Record<string, unknown> }
    try {
      decoded = (ignoreExpiration ? this.#verifyIgnoringExpiry : this.#verify)(token)
    } catch (err) {
      if (err instanceof JwtError && err.code === JwtError.codes.expired) throw new TokenExpiredError()
      throw new TokenInvalidError()
    }
    // fast-jwt reads its own clock; the service's (`clock`) must agree as well.
    checkRegisteredClaims(decoded.payload, this.#rules, ignoreExpiration, this.#settings.clock())
    return [decoded.header, decoded.payload]
  }

  // What fast-jwt leaves to the caller (key headers, typ, claim types, iat in the future): checked here, fail closed.
  // Expiry and nbf are fast-jwt's, with the same clock tolerance.
  #checkClaims (header: Record<string, unknown>, payload: Record<string, unknown>): AccessClaims {
    for (const name of KEY_HEADERS) if (name in header) throw new TokenInvalidError()
    if (header.typ !== undefined && header.typ !== 'JWT') throw new TokenInvalidError()
    const now = this.#settings.clock() / 1000
    const skew = this.#settings.clockSkewSeconds
    const { sub, sid, jti, typ, iat, exp } = payload
    if (typ !== 'access') throw new TokenInvalidError()
    if (!isId(sub) || !isId(sid) || !isId(jti)) throw new TokenInvalidError()
    if (!isTime(exp) || !isTime(iat) || iat > now + skew) throw new TokenInvalidError()
    // One verified token answers many requests: its amr is shared, so it is frozen with the claims.
    if (payload.amr !== undefined && !isAmr(payload.amr)) throw new TokenInvalidError()
    Object.freeze(payload.amr)
    return payload as AccessClaims
  }
}

function isId (value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 128
}

function isAmr (value: unknown): boolean {
  return Array.isArray(value) && value.length <= 8 && value.every((method) => typeof method === 'string')
}

function isTime (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
}

/** The shape of a device token (and of a refresh token of the earlier format): 32 bytes, base64url. */
export function isDeviceTokenShape (token: unknown): token is string {
  return typeof token === 'string' && DEVICE_TOKEN_SHAPE.test(token)
}

/**
 * What the database holds instead of a refresh token: the issue time its nonce leads with (12 hex digits, not
 * secret, in order, so new keys are written next to each other at the end of the index and the pages a
 * refresh touches stay in memory however many keys the table holds) and the SHA-256 of the whole token. The
 * token cannot be recovered from it.
 */
export function hashRefreshToken (token: string): string {
  const dot = token.indexOf('.')
  const nonce = dot === -1 ? token : token.slice(dot + 1)
  const issued = Buffer.from(nonce.slice(0, 8), 'base64url').toString('hex')
  return issued + createHash('sha256').update(token).digest('base64url')
}

/** A device token: 256 random bits, base64url. */
export function newDeviceToken (): string {
  return randomBytes(32).toString('base64url')
}

/** What the database holds instead of a device token: its SHA-256. */
export function hashDeviceToken (token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** 128 random bits, base64url. */
export function newSessionId (): string {
  return randomBytes(16).toString('base64url')
}

const ACTION_TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

/** A one-time action token (verify, reset, change email): 256 random bits, base64url. */
export function newActionToken (): string {
  return randomBytes(32).toString('base64url')
}

export function isActionTokenShape (token: unknown): token is string {
  return typeof token === 'string' && ACTION_TOKEN_SHAPE.test(token)
}

/** What the database holds instead of an action token: its SHA-256. */
export function hashActionToken (token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}
