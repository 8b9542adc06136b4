/**
 * Every error the plugin raises. Each carries an HTTP `statusCode`, a stable snake_case `code`, the `headers`
 * its response needs and the `body()` it answers with, so one formatter can answer for all of them and an
 * application's error handler can restyle any of them.
 */
export class AuthError extends Error {
  readonly statusCode: number = 400
  readonly code: string = 'auth_error'

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }

  /** Response headers that go with this error (Fastify's own error handler applies them too). */
  get headers (): Record<string, string> {
    return {}
  }

  /** The JSON body of the response: `{ detail, code }`. */
  body (): Record<string, unknown> {
    return { detail: this.message, code: this.code }
  }
}

export class AuthenticationError extends AuthError {
  override readonly statusCode: number = 401
  override readonly code: string

  constructor (message = 'Authentication required', code = 'authentication_required') {
    super(message)
    this.code = code
  }
}

/**
 * What the guards and `requireAuth` raise for a request without a valid token: the seed's exact body
 * `{"detail":"Authentication required"}` and a `WWW-Authenticate` challenge (RFC 6750).
 */
export class LoginRequiredError extends AuthenticationError {
  override readonly statusCode: number
  /** True when a token came but was refused (the challenge then says `invalid_token`). */
  readonly tokenRejected: boolean

  constructor (tokenRejected = false, statusCode = 401) {
    super()
    this.tokenRejected = tokenRejected
    this.statusCode = statusCode
  }

  override get headers (): Record<string, string> {
    return { 'www-authenticate': this.tokenRejected ? 'Bearer error="invalid_token"' : 'Bearer' }
  }

  override body (): Record<string, unknown> {
    return { detail: this.message }
  }
}

/** `requires(...)` for an authenticated request lacking a scope: 403 `{"detail":"Insufficient scope"}`. */
/**
 * A cookie-authenticated unsafe request (or a login) from an origin that may not send it: 403
 * `{"detail":"Cross-site request refused","code":"csrf_rejected"}`.
 */
export class CsrfRejectedError extends AuthError {
  override readonly statusCode = 403
  override readonly code = 'csrf_rejected'

  constructor () {
    super('Cross-site request refused')
  }
}

export class InsufficientScopeError extends AuthError {
  override readonly statusCode = 403
  override readonly code = 'insufficient_scope'
  /** The scopes the route requires. */
  readonly required: readonly string[]

  constructor (required: readonly string[]) {
    super('Insufficient scope')
    this.required = required
  }

  override get headers (): Record<string, string> {
    return { 'www-authenticate': 'Bearer error="insufficient_scope"' }
  }

  override body (): Record<string, unknown> {
    return { detail: this.message }
  }
}

export class TokenError extends AuthError {
  override readonly statusCode = 401
  override readonly code: string = 'invalid_token'
}

export class TokenExpiredError extends TokenError {
  override readonly code = 'token_expired'
  constructor (message = 'Token has expired') { super(message) }
}

export class TokenInvalidError extends TokenError {
  override readonly code = 'invalid_token'
  constructor (message = 'Token is invalid') { super(message) }
}

export class TokenRevokedError extends TokenError {
  override readonly code = 'token_revoked'
  constructor (message = 'Token has been revoked') { super(message) }
}

export class InvalidPasswordError extends AuthError {
  override readonly statusCode = 422
  override readonly code: string
  readonly errors: string[]

  constructor (errors: string[], code = 'invalid_password') {
    super(errors.length === 1 ? errors[0] : 'Password does not meet the requirements')
    this.errors = errors
    this.code = code
  }

  override body (): Record<string, unknown> {
    return { ...super.body(), errors: this.errors }
  }
}

/** A verification, reset or email-change token that is unknown, used, made void or expired: one answer for all. */
export class InvalidActionTokenError extends AuthError {
  override readonly statusCode = 400
  override readonly code = 'invalid_token'
  constructor () { super('This link is invalid or has expired: request a new one') }
}

/** `requireVerifiedEmail`: a login with the right password to an account whose address is not verified yet. */
export class EmailNotVerifiedError extends AuthError {
  override readonly statusCode = 403
  override readonly code = 'email_not_verified'
  constructor () { super('Email address is not verified: follow the link sent to it, or ask for a new one with POST /verify-email/resend { email }') }
}

export class InvalidCurrentPasswordError extends AuthError {
  override readonly statusCode = 403
  override readonly code = 'invalid_current_password'
  constructor () { super('Current password is incorrect') }
}

export class InvalidEmailError extends AuthError {
  override readonly statusCode = 422
  override readonly code = 'invalid_email'
}

export type ConflictCode = 'email_taken' | 'field_taken' | 'refresh_in_progress' | 'already_verified' | 'email_unchanged' | 'no_password'

export class ConflictError extends AuthError {
  override readonly statusCode = 409
  override readonly code: ConflictCode

  constructor (message: string, code: ConflictCode) {
    super(message)
    this.code = code
  }
}

export class ConfigurationError extends AuthError {
  override readonly statusCode = 500
  override readonly code = 'configuration_error'
}

/** An error that tells the client when to try again (the `Retry-After` header). */
export abstract class RetryLaterError extends AuthError {
  /** Seconds until another attempt may succeed. */
  readonly retryAfter: number

  constructor (message: string, retryAfter: number) {
    super(message)
    this.retryAfter = retryAfter
  }

  override get headers (): Record<string, string> {
    return { 'retry-after': String(this.retryAfter) }
  }
}

export class RateLimitError extends RetryLaterError {
  override readonly statusCode = 429
  override readonly code = 'rate_limited'

  constructor (retryAfter: number, message = 'Too many failed login attempts, try again later') {
    super(message, retryAfter)
  }
}

/** The password-hashing queue is full: the request is refused at once instead of waiting for seconds. */
export class BusyError extends RetryLaterError {
  override readonly statusCode = 503
  override readonly code = 'busy'

  constructor (retryAfter = 1) {
    super('The server is busy, try again shortly', retryAfter)
  }
}

/** The store could not answer (database closed, locked, unreachable): never a reason to call a client anonymous. */
export class ServiceUnavailableError extends AuthError {
  override readonly statusCode = 503
  override readonly code = 'service_unavailable'
  /** True when the database could not be reached at all (it may come back by itself). */
  readonly unreachable: boolean

  constructor (cause?: unknown, unreachable = false) {
    super('Authentication service unavailable', { cause })
    this.unreachable = unreachable
  }

  /** The token may well be fine: a client should keep it and retry. */
  override get headers (): Record<string, string> {
    return { 'retry-after': '5' }
  }
}

/** An argument of the wrong type or shape was passed to the framework-free API (a programming error, as a 400). */
/** `POST /refresh` with no refresh token in its body and no refresh cookie: a client mistake, not a refusal. */
export class MissingRefreshTokenError extends AuthError {
  override readonly statusCode = 400
  override readonly code = 'missing_refresh_token'

  constructor () {
    super('No refresh token: send it as refresh_token in the JSON body, or let the browser send the refresh cookie')
  }
}

/** A session that is not one of the caller's live sessions: unknown, ended or another user's, one answer for all. */
export class SessionNotFoundError extends AuthError {
  override readonly statusCode = 404
  override readonly code = 'session_not_found'
  constructor () { super('No such session: list yours with GET /sessions') }
}

/** Ending the session making the request through the session list: that is what logout is for. */
export class UseLogoutError extends AuthError {
  override readonly statusCode = 400
  override readonly code = 'use_logout'
  constructor () { super('This is the session making the request: end it with POST /logout') }
}

export class InvalidArgumentError extends AuthError {
  override readonly statusCode = 400
  override readonly code = 'invalid_argument'
}

/** A registration value the users table's own constraints refuse (NOT NULL, CHECK, a foreign key). */
export class InvalidFieldError extends AuthError {
  override readonly statusCode = 400
  override readonly code = 'invalid_field'
}

/**
 * The driver's own error, without Drizzle's wrapper: that one quotes the failed query's parameters, which can
 * be hashes or emails, and must never reach a log.
 */
export function describeError (err: unknown): { name: string, code?: unknown, message: string } {
  let root = err
  while (root instanceof Error && root.cause instanceof Error) root = root.cause
  if (!(root instanceof Error)) return { name: typeof root, message: 'a value that is not an Error was thrown' }
  // A query error with no driver cause still quotes its parameters: keep only that it failed.
  const message = root.message.startsWith('Failed query') ? 'query failed' : root.message
  const code = (root as { code?: unknown }).code
  return code === undefined ? { name: root.name, message } : { name: root.name, code, message }
}

/**
 * What may travel as the `cause` of an error that leaves the service: the driver's code and message only.
 * Loggers print cause chains (Fastify's default 5xx log does), and Drizzle's own error quotes parameters.
 */
export function scrubbedCause (err: unknown): Error {
  const { name, code, message } = describeError(err)
  const cause = new Error(message)
  cause.name = name
  if (code !== undefined) (cause as Error & { code?: unknown }).code = code
  // The stack would repeat the message and point into the driver; it adds nothing a log needs.
  cause.stack = `${name}: ${message}`
  return cause
}
