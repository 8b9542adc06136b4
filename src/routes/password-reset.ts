import type { FastifyInstance } from 'fastify'
import { afterResponse, runAfterResponse } from './after-response.ts'
import type { RouteContext } from './index.ts'
import { detailResponse, emailBody, errorResponse, errorResponses, passwordResetBody } from './schemas.ts'

export function passwordResetRoutes (fastify: FastifyInstance, { service, bodyLimit, docs, config }: RouteContext): void {
  fastify.post<{ Body: { email: string } }>('/password/forgot', {
    bodyLimit,
    config: config(),
    onResponse: runAfterResponse,
    schema: {
      ...docs('authForgotPassword', 'Email a password-reset link (the same answer whether or not the address has an account)', false),
      body: emailBody,
      response: { 202: detailResponse, ...errorResponses, 422: errorResponse }
    }
  }, async (request, reply) => {
    await service().requestPasswordReset(request.body.email, { ip: request.ip, after: afterResponse(request) })
    return reply.code(202).send({ detail: 'If this address belongs to an account, a reset link is on its way' })
  })

  fastify.post<{ Body: { token: string, new_password: string } }>('/password/reset', {
    bodyLimit,
    config: config(),
    schema: {
      ...docs('authResetPassword', 'Set a new password with the token from the emailed link; every session ends', false),
      body: passwordResetBody,
      response: { 200: detailResponse, ...errorResponses, 422: errorResponse }
    }
  }, async (request) => {
    await service().resetPassword(request.body.token, request.body.new_password, { ip: request.ip })
    return { detail: 'Password changed: log in with the new password' }
  })
}
