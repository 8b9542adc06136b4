import type { FastifyInstance } from 'fastify'
import type { RouteContext } from './index.ts'
import { tokenBody } from './login.ts'
import { errorResponse, errorResponses, refreshBody, tokensResponse } from './schemas.ts'

interface Body { refresh_token: string }

export function refreshRoute (fastify: FastifyInstance, { service, bodyLimit }: RouteContext): void {
  fastify.post<{ Body: Body }>('/refresh', {
    bodyLimit,
    schema: { body: refreshBody, response: { 200: tokensResponse, ...errorResponses, 409: errorResponse } }
  }, async (request, reply) => {
    const pair = await service().refresh(request.body.refresh_token)
    return reply.header('cache-control', 'no-store').send(tokenBody(pair))
  })
}
