import { InvalidArgumentError, InvalidPasswordError } from '../errors.ts'

/**
 * Type checks for the framework-free API, made before anything else, so a wrong argument is an AuthError that
 * says what to pass (a 4xx in a route), never a TypeError or a false "store unavailable".
 */

/** A user id, or a user object carrying one. */
export function userIdOf (userOrId: unknown, name = 'userId'): string {
  const id = typeof userOrId === 'object' && userOrId !== null && !Array.isArray(userOrId)
    ? (userOrId as { id?: unknown }).id
    : userOrId
  if (typeof id !== 'string' || id === '') {
    throw new InvalidArgumentError(`\`${name}\` must be a user id (a non-empty string) or a user object with one`)
  }
  return id
}

export function passwordArgument (password: unknown, name = 'password'): string {
  if (typeof password !== 'string') throw new InvalidPasswordError([`\`${name}\` must be a string`])
  return password
}

/** An options or fields object (callers default an absent one to `{}`): anything but a plain object is refused. */
export function objectArgument<T extends object> (value: T, name: string): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`\`${name}\` must be an object`)
  }
  return value
}

/** An optional string option (an address, a session id): absent or null is null. */
export function optionalString (value: unknown, name: string): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw new InvalidArgumentError(`\`${name}\` must be a string when given`)
  return value
}
