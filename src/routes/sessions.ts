import type { FastifyInstance } from 'fastify'
import { loginRequired, requireAuth } from '../guards.ts'
import type { ListedSession } from '../service/user-admin.ts'
import type { RouteContext } from './index.ts'
import { MAX_TOKEN, errorResponse, errorResponses } from './schemas.ts'

const nullableString = { type: ['string', 'null'] } as const
const dateTime = { type: 'string', format: 'date-time' } as const

export const sessionListResponse = {
  type: 'array',
  maxItems: 100,
  items: {
    type: 'object',
    required: ['id', 'current', 'created_at', 'last_used_at', 'expires_at', 'ip', 'user_agent', 'method'],
    additionalProperties: false,
    properties: {
      id: { type: 'string' },
      current: { type: 'boolean' },
      created_at: dateTime,
      last_used_at: dateTime,
      expires_at: dateTime,
      ip: nullableString,
      user_agent: nullableString,
      method: { type: 'string' }
    }
  }
} as const

const sessionParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: MAX_TOKEN } }
} as const

const revokedResponse = {
  type: 'object',
  required: ['revoked'],
  additionalProperties: false,
  properties: { revoked: { type: 'integer', minimum: 0 } }
} as const

function listed (session: ListedSession): Record<string, unknown> {
  return {
    id: session.id,
    current: session.current,
    created_at: session.createdAt.toISOString(),
    last_used_at: session.lastUsedAt.toISOString(),
    expires_at: session.expiresAt.toISOString(),
    ip: session.ip,
    user_agent: session.userAgent,
    method: session.method
  }
}

/** Where the user is signed in: list the live sessions, end one, end every other. */
export function sessionRoutes (fastify: FastifyInstance, { service, docs, config }: RouteContext): void {
  fastify.get('/sessions', {
    preHandler: loginRequired,
    config: config(),
    schema: { ...docs('authListSessions', 'The live sessions of the signed-in user, newest first', true), response: { 200: sessionListResponse, ...errorResponses } }
  }, async (request) => {
    const user = requireAuth(request)
    return (await service().listSessions(user.id, request.auth.sessionId)).map(listed)
  })

  fastify.delete<{ Params: { id: string } }>('/sessions/:id', {
    onRequest: loginRequired,
    config: config(),
    schema: {
      ...docs('authRevokeSession', 'End one of the signed-in user\'s other sessions', true),
      params: sessionParams,
      response: { 204: { type: 'null' }, ...errorResponses, 403: errorResponse, 404: errorResponse }
    }
  }, async (request, reply) => {
    const user = requireAuth(request)
    await service().revokeSession(user.id, request.params.id, request.auth.sessionId)
    return reply.code(204).send()
  })

  fastify.delete('/sessions', {
    onRequest: loginRequired,
    config: config(),
    schema: {
      ...docs('authRevokeOtherSessions', 'End every session of the signed-in user but this one', true),
      response: { 200: revokedResponse, ...errorResponses, 403: errorResponse }
    }
  }, async (request) => {
    const user = requireAuth(request)
    return { revoked: await service().revokeOtherSessions(user.id, request.auth.sessionId) }
  })
}
