import type { FastifyInstance } from 'fastify'
import { afterResponse, runAfterResponse } from './after-response.ts'
import type { RouteContext } from './index.ts'
import { credentialsBody, errorResponse, errorResponses, registeredResponse } from './schemas.ts'

type Body = { email: string, password: string } & Record<string, unknown>

export function registerRoute (fastify: FastifyInstance, { service, bodyLimit, docs, config, registerFields }: RouteContext): void {
  const extraFields = Object.keys(registerFields)
  // The application's extra columns join the body schema; everything else is still refused.
  const body = { ...credentialsBody, properties: { ...credentialsBody.properties, ...registerFields } }
  fastify.post<{ Body: Body }>('/register', {
    bodyLimit,
    config: config(),
    onResponse: runAfterResponse,
    schema: {
      ...docs('authRegister', 'Create an account', false),
      body,
      response: { 201: registeredResponse, ...errorResponses, 409: errorResponse, 422: errorResponse }
    }
  }, async (request, reply) => {
    const fields: Record<string, unknown> = {}
    for (const name of extraFields) if (request.body[name] !== undefined) fields[name] = request.body[name]
    const user = await service().register(request.body.email, request.body.password, fields, { ip: request.ip, after: afterResponse(request) })
    return reply.code(201).send({ id: user.id, email: user.email, is_verified: user.isVerified })
  })
}
