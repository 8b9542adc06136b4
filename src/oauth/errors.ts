import { AuthError, RetryLaterError } from '../errors.ts'

/** Every refusal of a provider sign-in, link or unlink, by its stable code. */
export const PROVIDER_ERRORS = {
  unknown_provider: 404,
  invalid_redirect: 400,
  invalid_state: 400,
  access_denied: 400,
  invalid_code: 400,
  email_unavailable: 400,
  provider_error: 502,
  account_exists: 409,
  account_linked_elsewhere: 409,
  provider_already_linked: 409,
  last_sign_in_method: 409,
  account_not_linked: 404
} as const

export type ProviderErrorCode = keyof typeof PROVIDER_ERRORS

/**
 * A provider sign-in refused. `redirectTo`: where the browser was to return (known once the flow is found),
 * so the route can send it back there with `#error=<code>` instead of a JSON page.
 */
export class ProviderSignInError extends AuthError {
  override readonly statusCode: number
  override readonly code: ProviderErrorCode
  redirectTo: string | undefined

  constructor (code: ProviderErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.statusCode = PROVIDER_ERRORS[code]
  }
}

/** The provider could not be reached, or did not answer in time: retried by the next sign-in. */
export class ProviderUnavailableError extends RetryLaterError {
  override readonly statusCode = 503
  override readonly code = 'provider_unavailable'
  redirectTo: string | undefined

  constructor (provider: string, options?: ErrorOptions) {
    super(`The identity provider '${provider}' cannot be reached, try again shortly`, 5)
    if (options?.cause !== undefined) Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false })
  }
}
