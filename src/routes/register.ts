import type { FastifyInstance } from 'fastify'
import type { RouteContext } from './index.ts'
import { credentialsBody, errorResponse, errorResponses, registeredResponse } from './schemas.ts'

interface Body { email: string, password: string }

export function registerRoute (fastify: FastifyInstance, { service, bodyLimit }: RouteContext): void {
  fastify.post<{ Body: Body }>('/register', {
    bodyLimit,
    schema: {
      body: credentialsBody,
      response: { 201: registeredResponse, ...errorResponses, 409: errorResponse, 422: errorResponse }
    }
  }, async (request, reply) => {
    const user = await service().register(request.body.email, request.body.password, {}, { ip: request.ip })
    return reply.code(201).send({ id: user.id, email: user.email, is_verified: user.isVerified })
  })
}
