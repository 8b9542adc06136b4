/** A session's `method` column as the `amr` values (RFC 8176) its access tokens carry. */
export function amrOf (method: string | undefined): string[] {
  return method?.startsWith('oauth:') === true ? ['oauth'] : ['pwd']
}
