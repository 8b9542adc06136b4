/** True for a unique-constraint violation from either driver, also when Drizzle wraps it in a query error. */
export function isUniqueViolation (err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505') return true
  }
  return false
}
