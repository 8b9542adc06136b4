import type { FastifyReply, FastifyRequest } from 'fastify'
import type { TokenPair } from '../service/results.ts'
import { setAuthCookies } from '../transport/cookies.ts'
import { csrfToken, sentByBrowser } from '../transport/csrf.ts'
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
 * What /login and /refresh answer with, never cached.
 * - Bearer: the tokens in the body.
 * - Cookies: the tokens in HttpOnly cookies and, with double-submit, its token in the body and in a readable
 *   cookie. With 'both', the body carries the tokens too, but only for a client that is not a browser (no
 *   Fetch Metadata header): a page's script must never read what the HttpOnly cookies protect.
 * - `cookies: false` (a refresh whose token came in the body): the tokens in the body and no cookie.
 */
export function sendTokens (
  request: FastifyRequest, reply: FastifyReply, pair: TokenPair, context: RouteContext,
  { cookies = true, extra = {} }: { cookies?: boolean, extra?: Record<string, unknown> } = {}
): FastifyReply {
  const { transport } = context
  const setCookies = cookies && transport.cookie
  const csrf = setCookies && transport.doubleSubmit ? csrfToken(context.service().config.secret, pair.sessionId) : undefined
  if (setCookies) setAuthCookies(reply, transport, context.refreshPath, { ...pair, csrfToken: csrf })
  const tokensInBody = !setCookies || (transport.bearer && !sentByBrowser(request))
  const body = tokensInBody ? tokenBody(pair) : { token_type: pair.tokenType, expires_in: pair.expiresIn }
  return reply.header('cache-control', 'no-store').send({ ...body, ...extra, ...(csrf === undefined ? {} : { csrf_token: csrf }) })
}

const TOKEN_PROPERTIES = {
  access_token: { type: 'string' },
  refresh_token: { type: 'string' },
  token_type: { type: 'string', enum: ['bearer'] },
  expires_in: { type: 'integer' }
} as const

/**
 * The 200 schema of /login (`deviceToken`) and /refresh: the tokens are required only where they are always in
 * the body (bearer); with cookies a browser gets none, and the double-submit token comes only with cookies.
 */
export function tokenResponseSchema (transport: ResolvedTransport, deviceToken: boolean) {
  const required: string[] = transport.cookie ? ['token_type', 'expires_in'] : ['access_token', 'refresh_token', 'token_type', 'expires_in']
  const properties: Record<string, unknown> = { ...TOKEN_PROPERTIES }
  if (deviceToken) {
    required.push('device_token')
    properties.device_token = { type: 'string' }
  }
  if (transport.cookie && transport.doubleSubmit) {
    properties.csrf_token = { type: 'string' }
  }
  return { type: 'object', required, additionalProperties: false, properties }
}
