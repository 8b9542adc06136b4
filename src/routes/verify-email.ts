import type { FastifyInstance } from 'fastify'
import { loginRequired, requireAuth } from '../guards.ts'
import { afterResponse, runAfterResponse } from './after-response.ts'
import type { RouteContext } from './index.ts'
import { actionTokenBody, detailResponse, emailBody, errorResponse, errorResponses } from './schemas.ts'

export function verifyEmailRoutes (fastify: FastifyInstance, { service, bodyLimit, docs, config }: RouteContext): void {
  fastify.post('/verify-email/request', {
    bodyLimit,
    onRequest: loginRequired,
    onResponse: runAfterResponse,
    config: config(),
    schema: {
      ...docs('authRequestEmailVerification', 'Email a verification link to the account\'s address', true),
      response: { 202: detailResponse, ...errorResponses, 403: errorResponse, 409: errorResponse }
    }
  }, async (request, reply) => {
    const user = requireAuth(request)
    await service().requestEmailVerification(user.id, { ip: request.ip, after: afterResponse(request) })
    return reply.code(202).send({ detail: 'A verification link is on its way' })
  })

  fastify.post<{ Body: { email: string } }>('/verify-email/resend', {
    bodyLimit,
    config: config(),
    onResponse: runAfterResponse,
    schema: {
      ...docs('authResendEmailVerification', 'Email a new verification link (the same answer whatever the address): for accounts that cannot log in before they verify', false),
      body: emailBody,
      response: { 202: detailResponse, ...errorResponses, 422: errorResponse }
    }
  }, async (request, reply) => {
    await service().resendEmailVerification(request.body.email, { ip: request.ip, after: afterResponse(request) })
    return reply.code(202).send({ detail: 'If this address belongs to an account waiting for verification, a link is on its way' })
  })

  fastify.post<{ Body: { token: string } }>('/verify-email', {
    bodyLimit,
    config: config(),
    schema: {
      ...docs('authVerifyEmail', 'Confirm the address with the token from the emailed link', false),
      body: actionTokenBody,
      response: { 200: detailResponse, ...errorResponses }
    }
  }, async (request) => {
    await service().verifyEmail(request.body.token, { ip: request.ip })
    return { detail: 'Email address verified' }
  })
}
