import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AuthError, describeError } from '../errors.ts'
import { loginRequired, requireAuth } from '../guards.ts'
import { ProviderSignInError, ProviderUnavailableError } from '../oauth/errors.ts'
import type { Completion } from '../oauth/sign-in.ts'
import { setAuthCookies } from '../transport/cookies.ts'
import { csrfRefused, csrfToken, originRefusal } from '../transport/csrf.ts'
import { FlowBinding } from '../transport/flow-binding.ts'
import type { RouteContext } from './index.ts'
import { errorResponse, errorResponses, MAX_TOKEN } from './schemas.ts'
import { sendTokens, tokenResponseSchema } from './token-response.ts'

const MAX_URL = 2048
const providerParams = { type: 'object', required: ['provider'], additionalProperties: false, properties: { provider: { type: 'string', minLength: 1, maxLength: 64 } } } as const
const challenge = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'a bearer client\'s PKCE challenge: base64url(SHA-256(code_verifier))' } as const
const startQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    redirectTo: { type: 'string', maxLength: MAX_URL, description: 'where the browser returns afterwards: under one of `oauth.allowedRedirects` (the first by default)' },
    link: { type: 'string', enum: ['1', 'true'], description: 'link the provider to the signed-in user instead of signing in' },
    code_challenge: challenge,
    code_challenge_method: { type: 'string', enum: ['S256'] }
  }
} as const
const param = (description: string) => ({ type: 'string', maxLength: MAX_URL, description }) as const
/** What providers send back (RFC 6749, RFC 9207, OIDC); other parameters pass on to openid-client as they came. */
const callbackQuery = {
  type: 'object',
  properties: {
    code: param('the authorization code'),
    state: param('the state the flow left with'),
    iss: param('the issuer (RFC 9207)'),
    error: param('the provider\'s refusal, e.g. access_denied'),
    error_description: param('the provider\'s words, never shown')
  }
} as const
const linkBody = { type: 'object', additionalProperties: false, properties: { redirectTo: startQuery.properties.redirectTo, code_challenge: challenge } } as const
const redirect = { description: 'To the provider (or back to `redirectTo`)', type: 'null', headers: { location: { type: 'string', format: 'uri' } } } as const
const exchangeBody = {
  type: 'object',
  required: ['code'],
  additionalProperties: false,
  properties: { code: { type: 'string', minLength: 1, maxLength: MAX_TOKEN }, code_verifier: { type: 'string', minLength: 43, maxLength: 128 } }
} as const
const accountList = {
  type: 'array',
  items: {
    type: 'object',
    required: ['provider', 'email', 'email_verified', 'created_at', 'last_login_at'],
    additionalProperties: false,
    properties: {
      provider: { type: 'string' },
      email: { type: ['string', 'null'] },
      email_verified: { type: 'boolean' },
      created_at: { type: 'string', format: 'date-time' },
      last_login_at: { type: ['string', 'null'], format: 'date-time' }
    }
  }
} as const
const providerList = {
  type: 'array', items: { type: 'object', required: ['name', 'label'], additionalProperties: false, properties: { name: { type: 'string' }, label: { type: 'string' } } }
} as const

interface StartQuery { redirectTo?: string, link?: string, code_challenge?: string }

/** Sign-in through identity providers, the completion-code exchange, and the user's linked providers. */
export function oauthRoutes (fastify: FastifyInstance, context: RouteContext): void {
  const { service, docs, config, transport, bodyLimit } = context
  const binding = new FlowBinding(transport, service().config.secret)
  // Cookies only: a session in cookies. Bearer only: a completion code. Both: a code when the start gave a challenge.
  const completion: Completion = !transport.cookie ? 'code' : transport.bearer ? 'auto' : 'session'

  fastify.get('/oauth/providers', {
    config: config(),
    schema: { ...docs('authListProviders', 'The identity providers one can sign in with', false), response: { 200: providerList } }
  }, async () => service().oauth.list())

  fastify.get<{ Params: { provider: string }, Querystring: StartQuery }>('/oauth/:provider', {
    config: config(),
    schema: {
      ...docs('authProviderStart', 'Leave for the provider\'s sign-in page (302); `link=1` links it to the signed-in user', false),
      params: providerParams,
      querystring: startQuery,
      response: { 302: redirect, ...errorResponses, 403: errorResponse, 404: errorResponse, 503: errorResponse }
    }
  }, async (request, reply) => {
    const { redirectTo, link, code_challenge: codeChallenge } = request.query
    let linkUserId: string | undefined
    if (link !== undefined) {
      linkUserId = requireAuth(request).id
      // A GET that acts for the signed-in user: a cross-site page must not start it with the browser's cookies.
      const refusal = request.auth.transport === 'cookie' ? originRefusal(request, transport) : undefined
      if (refusal !== undefined) throw csrfRefused(request, refusal)
    }
    const url = await service().oauth.start(request.params.provider, { redirectTo, linkUserId, codeChallenge, ip: request.ip })
    if (linkUserId !== undefined) binding.set(reply, url)
    return reply.header('cache-control', 'no-store').redirect(url, 302)
  })

  fastify.post<{ Params: { provider: string }, Body: { redirectTo?: string, code_challenge?: string } }>('/oauth/:provider/link', {
    onRequest: loginRequired,
    // A POST without a body is as good as `{}`: every field is optional.
    preValidation: async (request) => { request.body ??= {} },
    bodyLimit,
    config: config(),
    schema: {
      ...docs('authProviderLink', 'The provider URL that links it to the signed-in user (for clients that cannot follow a redirect with their token)', true),
      params: providerParams,
      body: linkBody,
      response: { 200: { type: 'object', required: ['url'], additionalProperties: false, properties: { url: { type: 'string' } } }, ...errorResponses, 404: errorResponse, 503: errorResponse }
    }
  }, async (request, reply) => {
    const { redirectTo, code_challenge: codeChallenge } = request.body
    const url = await service().oauth.start(request.params.provider, { redirectTo, linkUserId: requireAuth(request).id, codeChallenge, ip: request.ip })
    binding.set(reply, url)
    return reply.header('cache-control', 'no-store').send({ url })
  })

  fastify.get<{ Params: { provider: string }, Querystring: Record<string, string> }>('/oauth/:provider/callback', {
    config: config(),
    schema: {
      ...docs('authProviderCallback', 'Where the provider sends the browser back: 302 to `redirectTo` (cookies set, `#code=` for bearer clients, `#link_code=` for a link to finish, or `#error=`)', false),
      params: providerParams,
      querystring: callbackQuery,
      response: { 302: redirect, ...errorResponses, 404: errorResponse, 503: errorResponse }
    }
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer')
    const browserBound = binding.holds(request, reply, request.query.state)
    const signedInUserId = request.user.isAuthenticated ? request.user.id : null
    try {
      const outcome = await service().oauth.callback(request.params.provider, request.query, {
        ip: request.ip, userAgent: request.headers['user-agent'], completion, browserBound, signedInUserId
      })
      if (outcome.kind === 'code') return reply.redirect(`${outcome.redirectTo}#code=${outcome.code}`, 302)
      if (outcome.kind === 'link_code') return reply.redirect(`${outcome.redirectTo}#link_code=${outcome.code}`, 302)
      if (outcome.kind === 'session') {
        const pair = outcome.login
        const csrf = transport.doubleSubmit ? csrfToken(service().config.secret, pair.sessionId) : undefined
        setAuthCookies(reply, transport, context.refreshPath, { ...pair, csrfToken: csrf })
      }
      return reply.redirect(outcome.redirectTo, 302)
    } catch (err) {
      return errorRedirect(request, reply, err)
    }
  })

  fastify.post<{ Body: { code: string, code_verifier?: string } }>('/oauth/token', {
    bodyLimit,
    config: config(),
    schema: {
      ...docs('authProviderToken', 'Exchange a provider sign-in\'s one-time code (and its code_verifier) for the tokens /login answers', false),
      body: exchangeBody,
      response: { 200: tokenResponseSchema(transport, true), ...errorResponses }
    }
  }, async (request, reply) => {
    const result = await service().oauth.exchange(request.body.code, request.body.code_verifier ?? null, { ip: request.ip, userAgent: request.headers['user-agent'] })
    return sendTokens(request, reply, result, context, { extra: { device_token: result.deviceToken } })
  })

  fastify.post<{ Body: { code: string, code_verifier?: string } }>('/oauth/link/complete', {
    onRequest: loginRequired,
    bodyLimit,
    config: config(),
    schema: {
      ...docs('authProviderLinkComplete', 'Finish a link whose callback came back with `#link_code=` (the user who started it, with its code_verifier when it gave a challenge)', true),
      body: exchangeBody,
      response: { 200: { type: 'object', required: ['provider'], additionalProperties: false, properties: { provider: { type: 'string' } } }, ...errorResponses, 409: errorResponse }
    }
  }, async (request) => {
    const provider = await service().oauth.completeLink(requireAuth(request).id, request.body.code, request.body.code_verifier ?? null, { ip: request.ip })
    return { provider }
  })

  fastify.get('/accounts', {
    onRequest: loginRequired,
    config: config(),
    schema: { ...docs('authListAccounts', 'The providers linked to the signed-in user', true), response: { 200: accountList, ...errorResponses } }
  }, async (request) => {
    const accounts = await service().oauth.accounts(requireAuth(request).id)
    return accounts.map((a) => ({
      provider: a.provider, email: a.email, email_verified: a.emailVerified, created_at: a.createdAt.toISOString(), last_login_at: a.lastLoginAt?.toISOString() ?? null
    }))
  })

  fastify.delete<{ Params: { provider: string } }>('/accounts/:provider', {
    onRequest: loginRequired,
    config: config(),
    schema: {
      ...docs('authUnlinkAccount', 'Unlink a provider (refused when it is the only way to sign in)', true),
      params: providerParams,
      response: { 204: { type: 'null' }, ...errorResponses, 403: errorResponse, 404: errorResponse }
    }
  }, async (request, reply) => {
    await service().oauth.unlink(requireAuth(request).id, request.params.provider)
    return reply.code(204).send()
  })
}

/** A refusal after the flow was found goes back to the page that asked, as `#error=<code>`; any other is answered as JSON. */
function errorRedirect (request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const target = (err as { redirectTo?: unknown } | null)?.redirectTo
  if (err instanceof ProviderUnavailableError || (err instanceof ProviderSignInError && err.code === 'provider_error')) {
    // The failure's name, code and message only: an error object of the protocol library may carry claims or URLs.
    request.log.warn({ err: describeError(err.cause ?? err) }, `fastify-drizzle-auth: provider sign-in failed: ${err.code}`)
  }
  // Only the plugin's own refusals name a code fit for a URL; anything else is answered by the error path.
  if (typeof target !== 'string' || !(err instanceof AuthError)) throw err
  return reply.redirect(`${target}#error=${encodeURIComponent(err.code)}`, 302)
}
