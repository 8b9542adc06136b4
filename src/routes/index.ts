import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Ajv } from 'ajv'
import { markOwnHandler } from '../error-handler.ts'
import type { AuthService } from '../service/auth-service.ts'
import { loginRoute } from './login.ts'
import { logoutRoute } from './logout.ts'
import { meRoute } from './me.ts'
import { passwordRoute } from './password.ts'
import { refreshRoute } from './refresh.ts'
import { registerRoute } from './register.ts'

export interface AuthRoutesOptions {
  prefix: string
  bodyLimit: number
  service: () => AuthService
}

export type RouteContext = Pick<AuthRoutesOptions, 'service' | 'bodyLimit'>

// No coercion (a numeric password is a 400, not "123"), no silent removal of unknown properties (they are a 400).
const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, strict: true })
ajv.addFormat('date-time', true)

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request'
}

/**
 * The bundled routes' other errors (validation, body parsing, anything unexpected) as `{ detail, code }`, with
 * nothing internal (SQL, stack, path) in a 5xx. AuthErrors never come here: the plugin's error path answers them.
 */
function errorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.validation !== undefined) {
    const [first] = error.validation
    const extra = first.keyword === 'additionalProperties'
      ? ` (unexpected property '${String(first.params.additionalProperty)}')`
      : ''
    const detail = `${String(error.validationContext)}${first.instancePath} ${String(first.message)}${extra}`
    return reply.code(400).send({ detail, code: 'invalid_request' })
  }
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) {
    const code = FASTIFY_CODES[error.code] ?? 'bad_request'
    return reply.code(status).send({ detail: error.message, code })
  }
  request.log.error({ err: error }, 'fastify-drizzle-auth: route failed')
  return reply.code(500).send({ detail: 'Internal server error', code: 'internal_error' })
}

/** The bundled routes, in their own encapsulated context: prefix, validator, error handler. */
export async function authRoutes (fastify: FastifyInstance, options: AuthRoutesOptions): Promise<void> {
  fastify.setValidatorCompiler(({ schema }) => ajv.compile(schema))
  fastify.setErrorHandler(errorHandler)
  markOwnHandler(fastify)
  const context: RouteContext = { service: options.service, bodyLimit: options.bodyLimit }
  registerRoute(fastify, context)
  loginRoute(fastify, context)
  meRoute(fastify)
  logoutRoute(fastify, context)
  refreshRoute(fastify, context)
  passwordRoute(fastify, context)
}
