import { ConfigurationError } from '../errors.ts'

/** An optional positive integer option: its default when absent, a ConfigurationError naming it and its default otherwise. */
export function positiveInteger (value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`${name}\` must be a positive integer (default ${fallback})`)
  }
  return value
}

/** An optional non-negative integer option: 0 is allowed, anything else as for `positiveInteger`. */
export function nonNegativeInteger (value: unknown, fallback: number, name: string): number {
  if (value === 0) return 0
  return positiveInteger(value, fallback, name)
}

/** An optional string option: absent, or a non-empty string. */
export function optionalString (value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') {
    throw new ConfigurationError(`fastify-drizzle-auth: \`${name}\` must be a non-empty string when set`)
  }
  return value
}

/** An optional function option: its default when absent, a ConfigurationError naming it otherwise. */
export function optionalFunction<F extends (...args: never[]) => unknown> (value: unknown, fallback: F, name: string): F {
  if (value === undefined) return fallback
  if (typeof value !== 'function') throw new ConfigurationError(`fastify-drizzle-auth: \`${name}\` must be a function when set`)
  return value as F
}
