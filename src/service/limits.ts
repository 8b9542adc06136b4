import { isIP } from 'node:net'
import type { ResolvedConfig } from './config.ts'
import type { AnyAuthStore, AttemptCount, AttemptLimit, AttemptSettlement } from '../db/store.ts'
import { RateLimitError } from '../errors.ts'
import type { LimitedAction } from './events.ts'

/** The one key every address that is not an IP address shares (garbage from a proxy buys no fresh limits). */
export const UNPARSED_ADDRESS_KEY = 'unparsed'

/**
 * The address a limit is keyed on, whatever spelling a proxy wrote it in: a port is dropped (`ip:port`,
 * `[v6]:port`, `[v6]`), an IPv4-mapped IPv6 address (dotted or hex, compressed or not) is its IPv4 address,
 * any other IPv6 address is its /64 (the block one subscriber gets, so rotating through it buys no extra
 * attempts), and anything that is still not an IP address goes into one shared bucket.
 */
export function ipKey (ip: string): string {
  const address = withoutPort(ip.trim()).split('%')[0]
  const family = isIP(address)
  if (family === 4) return address
  if (family !== 6) return UNPARSED_ADDRESS_KEY
  const groups = ipv6Groups(address)
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.')
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`
}

function withoutPort (address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(address)
  if (bracketed !== null) return bracketed[1]
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(address)
  return v4 === null ? address : v4[1]
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded IPv4 tail is two of them). */
function ipv6Groups (address: string): number[] {
  const parse = (part: string): number[] => part === ''
    ? []
    : part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [parseInt(group, 16)]
      const [a, b, c, d] = group.split('.').map(Number)
      return [(a << 8) | b, (c << 8) | d]
    })
  const [head, tail] = address.toLowerCase().split('::')
  const left = parse(head)
  if (tail === undefined) return left
  const right = parse(tail)
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right]
}

/**
 * The mailbox an address delivers to, as far as a limit can tell: lower-cased, with a `+tag` sub-address
 * dropped, so `victim+1@` ... `victim+9@` share one per-recipient limit.
 */
export function canonicalMailbox (email: string): string {
  const at = email.lastIndexOf('@')
  const local = email.slice(0, at)
  const plus = local.indexOf('+')
  return `${plus > 0 ? local.slice(0, plus) : local}${email.slice(at)}`.toLowerCase()
}

export interface LimitedEvent {
  action: LimitedAction
  email: string | null
  ip: string | null
  retryAfter: number
}

/** One counted password check: tell how it went, so the counts can be settled. */
export interface PasswordAttempt {
  /** True when the attempt was counted on a device token instead of the address and account limits. */
  readonly onDevice: boolean
  /** What a success settles; a login hands it to the session it opens (one write for both). */
  readonly settlement: AttemptSettlement | undefined
  /** A success that opens no session: settles on its own. */
  succeeded (): Promise<void>
  failed (): Promise<void>
}

export interface DeviceClaim {
  tokenHash: string
  userId: string
}

/** Runs an operation on the store, turning its failures into ServiceUnavailableError. */
type Call = <T>(operation: (store: AnyAuthStore) => Promise<T>) => Promise<T>

/**
 * The attempt limits, counted in the store so every instance on the database shares them. Each attempt is
 * counted before its bcrypt comparison, in one atomic statement per check, and an attempt that is already
 * over a limit writes nothing: the counters grow with distinct keys, never with the number of requests.
 */
export class AttemptLimiter {
  readonly #config: ResolvedConfig
  readonly #call: Call
  readonly #onLimited: (event: LimitedEvent) => void

  constructor (config: ResolvedConfig, call: Call, onLimited: (event: LimitedEvent) => void) {
    this.#config = config
    this.#call = call
    this.#onLimited = onLimited
  }

  /**
   * A password check for the account behind `email` (a login, or the current password of a change), counted
   * per email and address, per address, and per account across all addresses. A login presenting a live
   * device token of that very account is counted on the token alone.
   */
  async password (action: 'login' | 'password_change' | 'email_change', email: string, ip: string | null, device?: DeviceClaim): Promise<PasswordAttempt> {
    const limit = this.#config.loginRateLimit
    if (limit === false) return UNLIMITED
    const call = this.#call
    const now = () => new Date(this.#config.clock())
    const settle = async (settlement: AttemptSettlement) => { await call((store) => store.limits.settle(settlement, now())) }
    if (device !== undefined && await call((store) => store.devices.hit(device.tokenHash, device.userId, limit.maxAttemptsPerDevice, now()))) {
      const settlement = { clear: [], release: [], device: device.tokenHash }
      return new CountedAttempt(true, settlement, settle,
        () => call((store) => store.devices.revokeIfSpent(device.tokenHash, limit.maxAttemptsPerDevice, now())))
    }
    const limits = passwordLimits(limit, email, ip)
    await this.#hit(action, limits, limit.windowSeconds, email, ip, 'Too many failed login attempts, try again later')
    // A success forgets this address's failures for the email and takes back what it counted elsewhere.
    const settlement = { clear: [limits[0].key], release: limits.slice(1).map(({ key }) => key) }
    return new CountedAttempt(false, settlement, settle, nothing)
  }

  /**
   * Before a login takes a hashing place, writing nothing: a login whose address or account is already over
   * its limit is refused (429) without one, and one presenting a live device token of its account is told
   * so (it may wait in the known devices' lane). The attempt itself is counted later, by `password`.
   */
  async preflight (email: string, ip: string | null, device?: DeviceClaim): Promise<{ knownDevice: boolean }> {
    const limit = this.#config.loginRateLimit
    if (limit === false) return { knownDevice: false }
    const limits = passwordLimits(limit, email, ip)
    const check = device === undefined ? undefined : { ...device, max: limit.maxAttemptsPerDevice }
    const now = this.#config.clock()
    const { counts, deviceLive } = await this.#call((store) => store.limits.peek(limits, check, new Date(now)))
    if (deviceLive) return { knownDevice: true }
    const over = counts.filter((count) => count.count >= limits.find((l) => l.key === count.key)!.max)
    if (over.length > 0) this.#refuse('login', over, now, email, ip, 'Too many failed login attempts, try again later')
    return { knownDevice: false }
  }

  /** One registration from `ip` (none counted for callers that give no address, such as scripts). */
  async registration (ip: string | null): Promise<void> {
    const limit = this.#config.registrationRateLimit
    if (limit === false || ip === null) return
    await this.#hit('register', [{ key: `register:${ipKey(ip)}`, max: limit.maxPerIp }], limit.windowSeconds, null, ip,
      'Too many registrations from this address, try again later')
  }

  /** A request that sends mail (verification, reset, email change) from `ip`: 429 past the limit. */
  async mailRequest (ip: string | null): Promise<void> {
    const limit = this.#config.account.mailRateLimit
    if (limit === false || ip === null) return
    await this.#hit('mail_request', [{ key: `mail:${ipKey(ip)}`, max: limit.maxRequestsPerIp }], limit.windowSeconds, null, ip,
      'Too many email requests from this address, try again later')
  }

  /** An email change of account `userId` that is about to send mail: 429 past the per-account limit. */
  async emailChange (userId: string, ip: string | null): Promise<void> {
    const limit = this.#config.account.mailRateLimit
    if (limit === false) return
    await this.#hit('mail_request', [{ key: `email-change:${userId}`, max: limit.maxEmailChangesPerAccount }], limit.accountWindowSeconds, null, ip,
      'Too many email change requests for this account, try again later')
  }

  /** A submitted action token (verify, reset, confirm) from `ip`: 429 past the limit. */
  async submission (ip: string | null): Promise<void> {
    const limit = this.#config.account.mailRateLimit
    if (limit === false || ip === null) return
    await this.#hit('token_submission', [{ key: `submit:${ipKey(ip)}`, max: limit.maxSubmissionsPerIp }], limit.windowSeconds, null, ip,
      'Too many attempts from this address, try again later')
  }

  /** A provider sign-in start, callback or code exchange from `ip`: 429 past the limit. */
  async providerSignIn (ip: string | null): Promise<void> {
    const limit = this.#config.oauth.rateLimit
    if (limit === false || ip === null) return
    await this.#hit('provider_sign_in', [{ key: `oauth:${ipKey(ip)}`, max: limit.maxPerIp }], limit.windowSeconds, null, ip,
      'Too many sign-in attempts from this address, try again later')
  }

  /**
   * Whether a message of this purpose may go to `email` now (one per recipient and purpose per period). The
   * same statement runs whether or not the address has an account; a refusal is silent (the caller answers alike).
   */
  async recipient (purpose: string, email: string): Promise<boolean> {
    const limit = this.#config.account.mailRateLimit
    if (limit === false) return true
    const key = `mailto:${purpose}:${canonicalMailbox(email)}`
    const { counted } = await this.#call((store) => store.limits.hit([{ key, max: 1 }], limit.perRecipientSeconds * 1000, new Date(this.#config.clock())))
    return counted
  }

  async #hit (action: LimitedEvent['action'], limits: AttemptLimit[], windowSeconds: number, email: string | null, ip: string | null, message: string): Promise<void> {
    const now = this.#config.clock()
    const { counted, counts } = await this.#call((store) => store.limits.hit(limits, windowSeconds * 1000, new Date(now)))
    const max = (count: AttemptCount) => limits.find((l) => l.key === count.key)!.max
    const over = counts.filter((c) => counted ? c.count > max(c) : c.count >= max(c))
    if (over.length > 0) this.#refuse(action, over, now, email, ip, message)
  }

  #refuse (action: LimitedEvent['action'], over: AttemptCount[], now: number, email: string | null, ip: string | null, message: string): never {
    const retryAfter = Math.max(1, Math.ceil((Math.max(...over.map((c) => c.resetAt.getTime())) - now) / 1000))
    this.#onLimited({ action, email, ip, retryAfter })
    throw new RateLimitError(retryAfter, message)
  }
}

/** The windows a password check counts on: email+address, account, and (when known) address. */
function passwordLimits (limit: Exclude<ResolvedConfig['loginRateLimit'], false>, email: string, ip: string | null): AttemptLimit[] {
  const address = ip === null ? '-' : ipKey(ip)
  const limits: AttemptLimit[] = [
    { key: `email:${email}|${address}`, max: limit.maxAttemptsPerEmail },
    { key: `account:${email}`, max: limit.maxAttemptsPerAccount }
  ]
  if (ip !== null) limits.push({ key: `ip:${address}`, max: limit.maxAttemptsPerIp })
  return limits
}

/** What an outcome that changes no count does. */
async function nothing (): Promise<void> {}

/** A counted attempt: its success settles what it counted. */
class CountedAttempt implements PasswordAttempt {
  readonly #settle: (settlement: AttemptSettlement) => Promise<void>

  constructor (readonly onDevice: boolean, readonly settlement: AttemptSettlement, settle: (settlement: AttemptSettlement) => Promise<void>,
    readonly failed: () => Promise<void>) {
    this.#settle = settle
  }

  async succeeded (): Promise<void> {
    await this.#settle(this.settlement)
  }
}

const UNLIMITED: PasswordAttempt = Object.freeze({ onDevice: false, settlement: undefined, succeeded: nothing, failed: nothing })
