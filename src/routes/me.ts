import type { FastifyInstance } from 'fastify'
import { loginRequired, requireAuth } from '../guards.ts'
import type { RouteContext } from './index.ts'
import { errorResponses, meResponse } from './schemas.ts'

export function meRoute (fastify: FastifyInstance, { docs, config, meFields }: RouteContext): void {
  const response = meFields.length === 0
    ? meResponse
    : {
        ...meResponse,
        required: [...meResponse.required, ...meFields.map((field) => field.key)],
        properties: { ...meResponse.properties, ...Object.fromEntries(meFields.map((field) => [field.key, field.schema])) }
      }
  fastify.get('/me', {
    preHandler: loginRequired,
    config: config(),
    schema: { ...docs('authMe', 'The authenticated user', true), response: { 200: response, ...errorResponses } }
  }, (request) => {
    // Synchronous: Fastify sends a returned value without making a promise for it.
    const user = requireAuth(request)
    const body: Record<string, unknown> = {
      id: user.id,
      email: user.email,
      is_verified: user.isVerified,
      is_active: user.isActive,
      last_login: user.lastLogin === null ? null : user.lastLogin.toISOString()
    }
    for (const { name, key } of meFields) body[key] = jsonValue((user as unknown as Record<string, unknown>)[name])
    return body
  })
}

/** A column's value as JSON: dates as ISO strings, bigints as strings, nothing as null. */
export function jsonValue (value: unknown): unknown {
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'bigint') return value.toString()
  return value ?? null
}
