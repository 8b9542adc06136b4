import type { AuthConfig, LoginRateLimitConfig, RegistrationRateLimitConfig } from './config.ts'
import { ConfigurationError } from '../errors.ts'
import type { ActionTokenTtlConfig, AccountLinks, MailRateLimitConfig, OutboxConfig } from './account-config.ts'

/** A group's keys: `true` for a value checked elsewhere (or whose own keys are the caller's), a group for nested keys. */
export type KeyTree<T> = { readonly [K in keyof Required<T>]: true | KeyTree<NonNullable<Required<T>[K]>> }

const LOGIN_LIMITS: KeyTree<LoginRateLimitConfig> = {
  maxAttemptsPerEmail: true, maxAttemptsPerIp: true, maxAttemptsPerAccount: true, maxAttemptsPerDevice: true, windowSeconds: true
}
const REGISTRATION_LIMITS: KeyTree<RegistrationRateLimitConfig> = { maxPerIp: true, windowSeconds: true }
const LINKS: KeyTree<AccountLinks> = { verifyEmail: true, resetPassword: true, changeEmail: true }
const TTLS: KeyTree<ActionTokenTtlConfig> = { verifyEmail: true, resetPassword: true, changeEmail: true }
const OUTBOX: KeyTree<OutboxConfig> = {
  maxAttempts: true, retryDelayMs: true, maxRetryDelayMs: true, pollIntervalMs: true, leaseMs: true, closeTimeoutMs: true
}
const MAIL_LIMITS: KeyTree<MailRateLimitConfig> = {
  perRecipientSeconds: true, maxRequestsPerIp: true, maxSubmissionsPerIp: true, windowSeconds: true, maxEmailChangesPerAccount: true, accountWindowSeconds: true
}

/** Every key `configure()` and `new AuthService()` accept, at every depth. */
export const CONFIG_KEY_TREE: KeyTree<AuthConfig> = {
  database: true,
  postgresPool: true,
  store: true,
  secret: true,
  algorithm: true,
  issuer: true,
  audience: true,
  accessTokenTtl: true,
  refreshTokenTtl: true,
  clockSkewSeconds: true,
  clock: true,
  bcryptRounds: true,
  hashConcurrency: true,
  hashQueueLimit: true,
  hashThreads: true,
  passwordValidators: true,
  refreshReuseGraceSeconds: true,
  loginRateLimit: LOGIN_LIMITS,
  registrationRateLimit: REGISTRATION_LIMITS,
  deviceTokenTtl: true,
  purgeIntervalSeconds: true,
  usersTable: true,
  migrate: true,
  sessionCache: { enabled: true, maxStalenessMs: true },
  logger: true,
  mailer: true,
  links: LINKS,
  requireVerifiedEmail: true,
  sendVerificationOnRegister: true,
  actionTokenTtl: TTLS,
  mailTemplates: true,
  outbox: OUTBOX,
  mailRateLimit: MAIL_LIMITS
}

/**
 * Refuses a key the plugin does not know, at any depth (a typo is otherwise a setting silently not applied,
 * and JavaScript users have no type checker to catch it), naming the closest known key.
 */
export function checkOptionKeys (options: unknown, tree: Readonly<Record<string, unknown>>, path = ''): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return
  for (const [key, value] of Object.entries(options)) {
    const known = tree[key]
    if (known === undefined) {
      const suggestion = closest(key, Object.keys(tree))
      throw new ConfigurationError(
        `fastify-drizzle-auth: unknown option \`${path}${key}\`${suggestion === undefined ? '' : `: did you mean \`${path}${suggestion}\`?`}` +
        ` (known${path === '' ? '' : ` in \`${path.slice(0, -1)}\``}: ${Object.keys(tree).join(', ')})`
      )
    }
    if (known !== true) checkOptionKeys(value, known as Record<string, unknown>, `${path}${key}.`)
  }
}

function closest (key: string, candidates: string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) { best = candidate; bestDistance = distance }
  }
  // A suggestion only when it is plausibly the same word: at most a third of it differs.
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined
}

function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]
}
