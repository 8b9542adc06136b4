/**
 * `message` with the password of a database URL replaced by `***`, in both spellings: as written in the URL,
 * and percent-decoded (when it decodes at all). Anything that is not a URL with a password passes unchanged.
 */
export function withoutPassword (message: string, database: unknown): string {
  if (typeof database !== 'string') return message
  const password = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@]*)@/i.exec(database)?.[1]
  if (password === undefined || password === '') return message
  return [password, percentDecoded(password)].reduce((text, spelling) => text.split(spelling).join('***'), message)
}

function percentDecoded (text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** A database error as one line for a person: its message without the URL's password, then its code. */
export function databaseFailure (err: Error & { code?: unknown }, database: unknown): string {
  const code = err.code === undefined ? '' : ` (${String(err.code)})`
  return `${withoutPassword(err.message, database)}${code}`
}
