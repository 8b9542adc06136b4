import type { FastifyInstance } from 'fastify'
import type { RouteContext } from './index.ts'
import { tokenBody } from './login.ts'
import { errorResponse, errorResponses, refreshBody, tokensResponse } from './schemas.ts'

interface Body { refresh_token: string }

export function refreshRoute (fastify: FastifyInstance, { service, bodyLimit, docs, config }: RouteContext): void {
  fastify.post<{ Body: Body }>('/refresh', {
    bodyLimit,
    config: config(),
    schema: {
      ...docs('authRefresh', 'Trade a refresh token for a new token pair', false),
      body: refreshBody, response: { 200: tokensResponse, ...errorResponses, 409: errorResponse } }
  }, async (request, reply) => {
    const pair = await service().refresh(request.body.refresh_token)
    return reply.header('cache-control', 'no-store').send(tokenBody(pair))
  })
}
