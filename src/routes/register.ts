import type { FastifyInstance } from 'fastify'
import { afterResponse, runAfterResponse } from './after-response.ts'
import type { RouteContext } from './index.ts'
import { jsonValue } from './me.ts'
import { credentialsBody, errorResponse, errorResponses, registeredResponse } from './schemas.ts'

type Body = { email: string, password: string } & Record<string, unknown>

export function registerRoute (fastify: FastifyInstance, { service, bodyLimit, docs, config, registerFields }: RouteContext): void {
  const schemas = Object.fromEntries(registerFields.map((field) => [field.key, field.schema]))
  const required = registerFields.filter((field) => field.required).map((field) => field.key)
  // The application's extra columns join the body schema under their JSON keys; everything else is still refused.
  const body = { ...credentialsBody, required: [...credentialsBody.required, ...required], properties: { ...credentialsBody.properties, ...schemas } }
  // The 201 echoes what was registered, the application's columns included.
  const registered = { ...registeredResponse, properties: { ...registeredResponse.properties, ...schemas } }
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
    for (const { name, key } of registerFields) if (request.body[key] !== undefined) fields[name] = request.body[key]
    const user = await service().register(request.body.email, request.body.password, fields, { ip: request.ip, after: afterResponse(request) })
    const echoed: Record<string, unknown> = { id: user.id, email: user.email, is_verified: user.isVerified }
    for (const { name, key } of registerFields) echoed[key] = jsonValue((user as unknown as Record<string, unknown>)[name])
    return reply.code(201).send(echoed)
  })
}
