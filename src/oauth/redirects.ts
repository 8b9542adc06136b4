import { ProviderSignInError } from './errors.ts'

/**
 * Where a browser may be sent back: `redirectTo` parsed as a browser would (relative to the first allowed
 * target, backslashes and dot segments resolved), then matched by exact origin and path prefix. The parsed
 * URL, never the given string, is what is stored and redirected to.
 */
export class RedirectPolicy {
  readonly #allowed: URL[]

  constructor (allowed: readonly string[]) {
    this.#allowed = allowed.map((entry) => new URL(entry))
  }

  /** The allowed absolute URL for `given` (the first allowed target when none is given); 400 `invalid_redirect` otherwise. */
  check (given: string | undefined): string {
    if (given === undefined || given === '') return this.#allowed[0].href
    const url = URL.canParse(given, this.#allowed[0]) ? new URL(given, this.#allowed[0]) : undefined
    if (url !== undefined && url.username === '' && url.password === '' && this.#allowed.some((base) => matches(base, url))) {
      url.hash = ''
      return url.href
    }
    throw new ProviderSignInError('invalid_redirect', '`redirectTo` is not an allowed return address: it must be under one of `oauth.allowedRedirects`')
  }
}

function matches (base: URL, url: URL): boolean {
  // Allowed targets are http(s) URLs, so the same origin is the same scheme, host and port.
  if (url.origin !== base.origin) return false
  const prefix = base.pathname
  if (prefix === '/' || url.pathname === prefix) return true
  return url.pathname.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)
}
