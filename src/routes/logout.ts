import type { FastifyInstance } from 'fastify'
import { credentialOf } from '../bearer.ts'
import { CsrfRejectedError, LoginRequiredError } from '../errors.ts'
import { clearAuthCookies } from '../transport/cookies.ts'
import type { RouteContext } from './index.ts'
import { detailResponse, errorResponse, errorResponses } from './schemas.ts'

export function logoutRoute (fastify: FastifyInstance, { service, bodyLimit, docs, config, transport, refreshPath }: RouteContext): void {
  fastify.post('/logout', {
    bodyLimit,
    config: config(),
    schema: {
      ...docs('authLogout', 'End the session of the bearer token', true),
      response: { 200: detailResponse, ...errorResponses, ...(transport.cookie ? { 403: errorResponse } : {}) }
    }
  }, async (request, reply) => {
    if (request.auth.tokenStatus === 'csrf_rejected') throw new CsrfRejectedError()
    const credential = credentialOf(request, transport)
    // Idempotent: any token, also an expired or revoked one, is a successful logout.
    if (credential === undefined || credential.token === null) throw new LoginRequiredError(credential !== undefined)
    await service().logout(credential.token)
    if (transport.cookie) clearAuthCookies(reply, transport, refreshPath)
    return { detail: 'Logged out' }
  })
}
