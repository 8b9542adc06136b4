import type { FastifyInstance } from 'fastify'
import { loginRequired, requireAuth } from '../guards.ts'
import { errorResponses, meResponse } from './schemas.ts'

export function meRoute (fastify: FastifyInstance): void {
  fastify.get('/me', {
    preHandler: loginRequired,
    schema: { response: { 200: meResponse, ...errorResponses } }
  }, (request) => {
    // Synchronous: Fastify sends a returned value without making a promise for it.
    const user = requireAuth(request)
    return {
      id: user.id,
      email: user.email,
      is_verified: user.isVerified,
      is_active: user.isActive,
      last_login: user.lastLogin === null ? null : user.lastLogin.toISOString()
    }
  })
}
