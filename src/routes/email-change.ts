import type { FastifyInstance } from 'fastify'
import { loginRequired, requireAuth } from '../guards.ts'
import type { RouteContext } from './index.ts'
import { actionTokenBody, detailResponse, emailChangeBody, errorResponse, errorResponses } from './schemas.ts'

export function emailChangeRoutes (fastify: FastifyInstance, { service, bodyLimit, docs, config }: RouteContext): void {
  fastify.post<{ Body: { current_password: string, new_email: string } }>('/email/change', {
    bodyLimit,
    // Checked before the body is read: an anonymous caller gets the guard's 401, not a schema error.
    onRequest: loginRequired,
    config: config(),
    schema: {
      ...docs('authChangeEmail', 'Email a confirmation link to a new address (current password required)', true),
      body: emailChangeBody,
      response: { 202: detailResponse, ...errorResponses, 403: errorResponse, 409: errorResponse, 422: errorResponse }
    }
  }, async (request, reply) => {
    const user = requireAuth(request)
    await service().requestEmailChange(user.id, request.body.current_password, request.body.new_email, { ip: request.ip })
    return reply.code(202).send({ detail: 'A confirmation link was sent to the new address' })
  })

  fastify.post<{ Body: { token: string } }>('/email/confirm', {
    bodyLimit,
    config: config(),
    schema: {
      ...docs('authConfirmEmailChange', 'Move the account to the new address with the token from the emailed link', false),
      body: actionTokenBody,
      response: { 200: detailResponse, ...errorResponses, 409: errorResponse }
    }
  }, async (request) => {
    // Confirmed from a signed-in session, that session stays; every other one ends.
    await service().confirmEmailChange(request.body.token, { ip: request.ip, keepSessionId: request.auth.sessionId })
    return { detail: 'Email address changed' }
  })
}
