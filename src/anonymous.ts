/** What `request.user` holds when no valid token came with the request. */
export class AnonymousUser {
  readonly isAuthenticated = false as const
  readonly isAnonymous = true as const
  readonly displayName = '' as const
}

/** One shared, frozen instance: the hook assigns it without allocating. */
export const ANONYMOUS_USER: AnonymousUser = Object.freeze(new AnonymousUser())
