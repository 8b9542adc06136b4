import type { FastifyInstance } from 'fastify'
import { loginRequired, requireAuth } from '../guards.ts'
import type { RouteContext } from './index.ts'
import { detailResponse, errorResponse, errorResponses, passwordChangeBody } from './schemas.ts'

interface Body { current_password: string, new_password: string }

export function passwordRoute (fastify: FastifyInstance, { service, bodyLimit, docs, config }: RouteContext): void {
  fastify.post<{ Body: Body }>('/password', {
    bodyLimit,
    // Checked before the body is read: an anonymous caller gets the guard's 401, not a schema error.
    onRequest: loginRequired,
    config: config(),
    schema: {
      ...docs('authChangePassword', 'Change the password; other sessions end', true),
      body: passwordChangeBody,
      response: { 200: detailResponse, ...errorResponses, 403: errorResponse, 422: errorResponse }
    }
  }, async (request) => {
    const user = requireAuth(request)
    await service().changePassword(user, request.body.current_password, request.body.new_password, {
      keepSessionId: request.auth.sessionId,
      ip: request.ip
    })
    return { detail: 'Password changed' }
  })
}
