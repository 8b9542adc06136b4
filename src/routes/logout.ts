import type { FastifyInstance } from 'fastify'
import { bearerToken } from '../bearer.ts'
import { LoginRequiredError } from '../errors.ts'
import type { RouteContext } from './index.ts'
import { detailResponse, errorResponses } from './schemas.ts'

export function logoutRoute (fastify: FastifyInstance, { service, bodyLimit, docs, config }: RouteContext): void {
  fastify.post('/logout', {
    bodyLimit,
    config: config(),
    schema: { ...docs('authLogout', 'End the session of the bearer token', true), response: { 200: detailResponse, ...errorResponses } }
  }, async (request) => {
    const token = bearerToken(request)
    // Idempotent: any bearer token, also an expired or revoked one, is a successful logout.
    if (typeof token !== 'string') throw new LoginRequiredError(token === null)
    await service().logout(token)
    return { detail: 'Logged out' }
  })
}
