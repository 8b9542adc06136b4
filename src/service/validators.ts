import { dictionary } from '@zxcvbn-ts/language-common'

export interface PasswordContext {
  /** The account's normalized email, when known. */
  email?: string
}

/** Returns a message saying what is wrong, or nothing when the password passes. */
export type PasswordValidator = (password: string, context: PasswordContext) => string | null | undefined

/** bcrypt reads at most 72 bytes of input: anything longer would be silently truncated. */
export const BCRYPT_MAX_BYTES = 72

export function minimumLength (min = 8): PasswordValidator {
  return (password) => [...password].length < min ? `Password must be at least ${min} characters long` : null
}

export function notNumeric (): PasswordValidator {
  return (password) => /^\d+$/u.test(password) ? 'Password must not be entirely numeric' : null
}

let commonPasswords: Set<string> | undefined

/** Rejects the ~49,000 most common passwords (zxcvbn's ranked `passwords-common` list), case-insensitively. */
export function notCommon (): PasswordValidator {
  return (password) => {
    commonPasswords ??= new Set(dictionary['passwords-common'])
    return commonPasswords.has(password.trim().toLowerCase()) ? 'Password is too common' : null
  }
}

/** Rejects passwords too close to the email, its local part or the words in it (Ratcliff/Obershelp ratio). */
export function notSimilarToEmail (maxSimilarity = 0.7): PasswordValidator {
  return (password, { email }) => {
    if (email === undefined || email === '') return null
    const lower = password.toLowerCase()
    const local = email.split('@')[0]
    const candidates = new Set([email, local, ...email.split(/[\W_]+/u).filter((part) => part.length >= 3)])
    for (const candidate of candidates) {
      if (candidate.length >= 4 && lower.includes(candidate)) return 'Password is too similar to the email'
      if (similarity(lower, candidate) >= maxSimilarity) return 'Password is too similar to the email'
    }
    return null
  }
}

export function defaultValidators (): PasswordValidator[] {
  return [minimumLength(8), notNumeric(), notSimilarToEmail(), notCommon()]
}

function similarity (a: string, b: string): number {
  return (2 * matchingCharacters(a, b)) / (a.length + b.length)
}

function matchingCharacters (a: string, b: string): number {
  if (a.length === 0 || b.length === 0) return 0
  let best = 0
  let bestA = 0
  let bestB = 0
  const row = new Array<number>(b.length + 1).fill(0)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = 0
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]
      row[j] = a[i - 1] === b[j - 1] ? diagonal + 1 : 0
      if (row[j] > best) { best = row[j]; bestA = i - best; bestB = j - best }
      diagonal = above
    }
  }
  if (best === 0) return 0
  return best +
    matchingCharacters(a.slice(0, bestA), b.slice(0, bestB)) +
    matchingCharacters(a.slice(bestA + best), b.slice(bestB + best))
}
