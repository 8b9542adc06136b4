import type { FastifyReply } from 'fastify'
import type { TokenPair } from '../service/results.ts'
import { setAuthCookies } from '../transport/cookies.ts'
import { csrfToken } from '../transport/csrf.ts'
import type { ResolvedTransport } from '../transport/options.ts'
import type { RouteContext } from './index.ts'

/** The OAuth 2.0 token response shape, shared by /login and /refresh. */
export function tokenBody (pair: TokenPair) {
  return {
    access_token: pair.accessToken,
    refresh_token: pair.refreshToken,
    token_type: pair.tokenType,
    expires_in: pair.expiresIn
  }
}

/**
 * What /login and /refresh answer with. Bearer: the tokens in the body. Cookies: the tokens in HttpOnly
 * cookies, out of the body unless bearer is allowed too; with double-submit, its token in the body and in a
 * readable cookie. Never cached.
 */
export function sendTokens (reply: FastifyReply, pair: TokenPair, context: RouteContext, extra: Record<string, unknown> = {}): FastifyReply {
  const { transport } = context
  const csrf = transport.cookie && transport.doubleSubmit ? csrfToken(context.service().config.secret, pair.sessionId) : undefined
  if (transport.cookie) setAuthCookies(reply, transport, context.refreshPath, { ...pair, csrfToken: csrf })
  const body = transport.bearer ? tokenBody(pair) : { token_type: pair.tokenType, expires_in: pair.expiresIn }
  return reply.header('cache-control', 'no-store').send({ ...body, ...extra, ...(csrf === undefined ? {} : { csrf_token: csrf }) })
}

const TOKEN_PROPERTIES = {
  access_token: { type: 'string' },
  refresh_token: { type: 'string' },
  token_type: { type: 'string', enum: ['bearer'] },
  expires_in: { type: 'integer' }
} as const

/** The 200 schema of /login (`deviceToken`) and /refresh: the tokens are required only where they are in the body. */
export function tokenResponseSchema (transport: ResolvedTransport, deviceToken: boolean) {
  const required: string[] = transport.bearer ? ['access_token', 'refresh_token', 'token_type', 'expires_in'] : ['token_type', 'expires_in']
  const properties: Record<string, unknown> = { ...TOKEN_PROPERTIES }
  if (deviceToken) {
    required.push('device_token')
    properties.device_token = { type: 'string' }
  }
  if (transport.cookie && transport.doubleSubmit) {
    required.push('csrf_token')
    properties.csrf_token = { type: 'string' }
  }
  return { type: 'object', required, additionalProperties: false, properties }
}
