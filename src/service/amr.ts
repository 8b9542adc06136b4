/** A session's `method` column as the `amr` values (RFC 8176) its access tokens carry. */
export function amrOf (method: string | undefined): string[] {
  if (method === undefined || method === 'password') return ['pwd']
  return method.startsWith('oauth:') ? ['oauth'] : [method]
}
