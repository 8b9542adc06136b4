import { InvalidEmailError } from '../errors.ts'

export const MAX_EMAIL_LENGTH = 254

/** Trim, NFKC, lower-case: the one spelling stored and looked up, the same on every dialect. */
export function normalizeEmail (email: string): string {
  return email.trim().normalize('NFKC').toLowerCase()
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u
const SHAPE = /^[^\s@]+@[^\s@]+$/u
// Characters that render as nothing (zero-width space/joiner, soft hyphen, word joiner, BOM, variation
// selectors...), bidi controls (RLO...) and other format characters: an address holding one looks exactly
// like another account's.
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Bidi_Control}\p{Cf}]/u

/** Normalizes and checks the shape loosely (one `@`, no spaces or control characters, at most 254 chars). */
export function normalizeAndCheckEmail (email: unknown): string {
  if (typeof email !== 'string') throw new InvalidEmailError('Email must be a string')
  if (CONTROL.test(email)) throw new InvalidEmailError('Email must not contain control characters')
  if (INVISIBLE.test(email)) {
    throw new InvalidEmailError('Email must not contain invisible or formatting characters (zero-width, soft hyphen, bidi controls)')
  }
  const normalized = normalizeEmail(email)
  if (normalized.length > MAX_EMAIL_LENGTH) {
    throw new InvalidEmailError(`Email must be at most ${MAX_EMAIL_LENGTH} characters`)
  }
  if (!SHAPE.test(normalized)) throw new InvalidEmailError('Email must look like name@example.com')
  return normalized
}
