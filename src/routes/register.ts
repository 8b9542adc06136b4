import type { FastifyInstance } from 'fastify'
import { afterResponse, runAfterResponse } from './after-response.ts'
import type { RouteContext } from './index.ts'
import { jsonValue } from './me.ts'
import { credentialsBody, errorResponse, errorResponses, registeredResponse } from './schemas.ts'

type Body = { email: string, password: string } & Record<string, unknown>

export function registerRoute (fastify: FastifyInstance, { service, bodyLimit, docs, config, registerFields, registerRequired }: RouteContext): void {
  const extraFields = Object.keys(registerFields)
  // The application's extra columns join the body schema; everything else is still refused.
  const body = { ...credentialsBody, required: [...credentialsBody.required, ...registerRequired], properties: { ...credentialsBody.properties, ...registerFields } }
  // The 201 echoes what was registered, the application's columns included.
  const registered = { ...registeredResponse, properties: { ...registeredResponse.properties, ...registerFields } }
  fastify.post<{ Body: Body }>('/register', {
    bodyLimit,
    config: config(),
    onResponse: runAfterResponse,
    schema: {
      ...docs('authRegister', 'Create an account', false),
      body,
      response: { 201: registered, ...errorResponses, 409: errorResponse, 422: errorResponse }
    }
  }, async (request, reply) => {
    const fields: Record<string, unknown> = {}
    for (const name of extraFields) if (request.body[name] !== undefined) fields[name] = request.body[name]
    const user = await service().register(request.body.email, request.body.password, fields, { ip: request.ip, after: afterResponse(request) })
    const echoed: Record<string, unknown> = { id: user.id, email: user.email, is_verified: user.isVerified }
    for (const name of extraFields) echoed[name] = jsonValue((user as unknown as Record<string, unknown>)[name])
    return reply.code(201).send(echoed)
  })
}
