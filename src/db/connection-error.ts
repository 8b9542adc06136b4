// Socket-level failures, and PostgreSQL's "cannot connect now" / "too many connections" / admin shutdown.
const CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', '57P01', '57P03', '53300'])

/** True when `err` says the database could not be reached (as opposed to a query it refused). */
export function isConnectionError (err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && CODES.has(code)) return true
    if (/timeout exceeded when trying to connect|Connection terminated/i.test(e.message)) return true
    if (e instanceof AggregateError && e.errors.some(isConnectionError)) return true
  }
  return false
}
