import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { MissingRefreshTokenError } from '../errors.ts'
import { cookieToken } from '../transport/cookies.ts'
import { csrfRefused, loginRefusal, originRefusal } from '../transport/csrf.ts'
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
    const fromBody = request.body.refresh_token
    if (fromBody !== undefined) {
      // A token in the body is answered in the body and never sets cookies: a cross-site form posting an
      // attacker's own token must not sign the victim's browser in. With cookies on, /login's origin check too.
      if (transport.cookie) {
        const refusal = loginRefusal(request, transport)
        if (refusal !== undefined) throw csrfRefused(request, refusal)
      }
      return sendTokens(request, reply, await service().refresh(fromBody, { ip: request.ip }), context, { cookies: false })
    }
    // Only with cookies on can the body lack the token (the schema requires it otherwise).
    const fromCookie = cookieToken(request, transport.names.refresh)
    if (fromCookie === undefined) throw new MissingRefreshTokenError()
    // The cookie is SameSite=Strict and scoped to this path; the origin is checked all the same.
    const refusal = originRefusal(request, transport)
    if (refusal !== undefined) throw csrfRefused(request, refusal)
    return sendTokens(request, reply, await service().refresh(fromCookie ?? '', { ip: request.ip }), context)
  })
}
