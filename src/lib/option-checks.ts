import { ConfigurationError } from '../errors.ts'

/** An optional positive integer option: its default when absent, a ConfigurationError naming it and its default otherwise. */
export function positiveInteger (value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigurationError(`fastify-drizzle-auth: \`${name}\` must be a positive integer (default ${fallback})`)
  }
  return value
}
