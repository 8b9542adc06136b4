/**
 * Every error the plugin raises. Each carries an HTTP `statusCode` and a stable snake_case `code`,
 * so an unhandled throw becomes the right response and clients can branch on `code`.
 */
export class AuthError extends Error {
  readonly statusCode: number = 400
  readonly code: string = 'auth_error'

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}

export class AuthenticationError extends AuthError {
  override readonly statusCode = 401
  override readonly code: string

  constructor (message = 'Authentication required', code = 'authentication_required') {
    super(message)
    this.code = code
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

export type ConflictCode = 'email_taken' | 'refresh_in_progress'

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

export class RateLimitError extends AuthError {
  override readonly statusCode = 429
  override readonly code = 'rate_limited'
  /** Seconds until another attempt may succeed (the `Retry-After` header). */
  readonly retryAfter: number

  constructor (retryAfter: number) {
    super('Too many failed login attempts, try again later')
    this.retryAfter = retryAfter
  }
}

/** The store could not answer (database closed, locked, unreachable): never a reason to call a client anonymous. */
export class ServiceUnavailableError extends AuthError {
  override readonly statusCode = 503
  override readonly code = 'service_unavailable'

  constructor (cause?: unknown) {
    super('Authentication service unavailable', { cause })
  }
}
