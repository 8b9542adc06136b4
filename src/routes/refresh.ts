import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { CsrfRejectedError } from '../errors.ts'
import { cookieToken } from '../transport/cookies.ts'
import { originAllowed } from '../transport/csrf.ts'
import type { RouteContext } from './index.ts'
import { errorResponse, errorResponses, refreshBody, refreshCookieBody } from './schemas.ts'
import { sendTokens, tokenResponseSchema } from './token-response.ts'

interface Body { refresh_token?: string }

// A browser's cookie refresh may send no body at all: validated as an empty object.
function emptyBodyAsObject (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  request.body ??= {}
  done()
}

export function refreshRoute (fastify: FastifyInstance, context: RouteContext): void {
  const { service, bodyLimit, docs, config, transport } = context
  fastify.post<{ Body: Body }>('/refresh', {
    bodyLimit,
    config: config(),
    ...(transport.cookie ? { preValidation: emptyBodyAsObject } : {}),
    schema: {
      ...docs('authRefresh', 'Trade a refresh token for a new token pair', false),
      body: transport.cookie ? refreshCookieBody : refreshBody,
      response: { 200: tokenResponseSchema(transport, false), ...errorResponses, 409: errorResponse, ...(transport.cookie ? { 403: errorResponse } : {}) }
    }
  }, async (request, reply) => {
    // Without cookies the schema requires the body's token; with them, an empty body means the cookie's.
    const fromBody = request.body.refresh_token
    const pair = await service().refresh(fromBody !== undefined ? fromBody : refreshCookie(request))
    return sendTokens(reply, pair, context)
  })

  // The cookie is SameSite=Strict and scoped to this path; the origin is checked all the same.
  function refreshCookie (request: FastifyRequest): string {
    if (!originAllowed(request, transport)) throw new CsrfRejectedError()
    return cookieToken(request, transport.names.refresh) ?? ''
  }
}
