import type { FastifyInstance } from 'fastify'
import type { TokenPair } from '../service/auth-service.ts'
import type { RouteContext } from './index.ts'
import { errorResponses, loginBody, loginResponse } from './schemas.ts'

interface Body { email: string, password: string, device_token?: string }

/** The OAuth 2.0 token response shape, shared by /login and /refresh. */
export function tokenBody (pair: TokenPair) {
  return {
    access_token: pair.accessToken,
    refresh_token: pair.refreshToken,
    token_type: pair.tokenType,
    expires_in: pair.expiresIn
  }
}

export function loginRoute (fastify: FastifyInstance, { service, bodyLimit, docs, config }: RouteContext): void {
  fastify.post<{ Body: Body }>('/login', {
    bodyLimit,
    config: config(),
    schema: {
      ...docs('authLogin', 'Log in with email and password: access, refresh and device tokens', false),
      body: loginBody, response: { 200: loginResponse, ...errorResponses } }
  }, async (request, reply) => {
    const result = await service().login(request.body.email, request.body.password, {
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      deviceToken: request.body.device_token
    })
    return reply.header('cache-control', 'no-store').send({ ...tokenBody(result), device_token: result.deviceToken })
  })
}
