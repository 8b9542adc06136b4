// Socket-level failures (also on an AggregateError of several addresses), and PostgreSQL's "cannot connect now" / "too many connections" / admin shutdown.
const CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', '57P01', '57P03', '53300'])

/** True when `err` says the database could not be reached (as opposed to a query it refused). */
export function isConnectionError (err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && CODES.has(code)) return true
    // node-postgres reports a server that never answers, or hangs up during the handshake, without a code.
    if (/timeout exceeded when trying to connect|Connection terminated/i.test(e.message)) return true
  }
  return false
}
