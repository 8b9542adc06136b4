import type { FastifyInstance } from 'fastify'
import { csrfRefused, loginRefusal } from '../transport/csrf.ts'
import type { RouteContext } from './index.ts'
import { errorResponse, errorResponses, loginBody } from './schemas.ts'
import { sendTokens, tokenResponseSchema } from './token-response.ts'

interface Body { email: string, password: string, device_token?: string }

export function loginRoute (fastify: FastifyInstance, context: RouteContext): void {
  const { service, bodyLimit, docs, config, transport } = context
  fastify.post<{ Body: Body }>('/login', {
    bodyLimit,
    config: config(),
    schema: {
      ...docs('authLogin', 'Log in with email and password: access, refresh and device tokens', false),
      body: loginBody,
      response: { 200: tokenResponseSchema(transport, true), ...errorResponses, ...(transport.cookie ? { 403: errorResponse } : {}) }
    }
  }, async (request, reply) => {
    // Login CSRF: a cross-site page must not log the browser in (to an account of its choosing).
    const refusal = transport.cookie ? loginRefusal(request, transport) : undefined
    if (refusal !== undefined) throw csrfRefused(request, refusal)
    const result = await service().login(request.body.email, request.body.password, {
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      deviceToken: request.body.device_token
    })
    return sendTokens(request, reply, result, context, { extra: { device_token: result.deviceToken } })
  })
}
