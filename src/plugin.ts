import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createBearerHook } from './bearer.ts'
import { type FastifyDrizzleAuthOptions, resolvePluginOptions } from './options.ts'
import { authRoutes } from './routes/index.ts'
import type { AnonymousUser } from './anonymous.ts'
import type { AuthInfo } from './types.ts'

async function fastifyDrizzleAuthPlugin (fastify: FastifyInstance, options: FastifyDrizzleAuthOptions): Promise<void> {
  const resolved = resolvePluginOptions(options, fastify.log)
  const { config, service } = resolved
  await resolved.eager?.ready()

  // @fastify/jwt shares the pinned key and algorithm, for applications that sign or verify their own JWTs.
  if (!fastify.hasDecorator('jwt')) {
    await fastify.register(fastifyJwt, {
      secret: config.secret,
      sign: {
        algorithm: config.algorithm,
        expiresIn: config.accessTokenTtl * 1000,
        ...(config.issuer === undefined ? {} : { iss: config.issuer }),
        ...(config.audience === undefined ? {} : { aud: config.audience })
      },
      verify: {
        algorithms: [config.algorithm],
        ...(config.issuer === undefined ? {} : { allowedIss: config.issuer }),
        ...(config.audience === undefined ? {} : { allowedAud: config.audience })
      }
    })
  }
  // Decorated with null so every request shares one shape; the hook assigns both before any handler runs.
  if (!fastify.hasRequestDecorator('user')) fastify.decorateRequest('user', null as unknown as AnonymousUser)
  fastify.decorateRequest('auth', null as unknown as AuthInfo)
  fastify.decorate('authService', { getter: service })

  fastify.addHook('onRequest', createBearerHook(service, resolved.scopesFor))

  if (resolved.routes !== false) {
    await fastify.register(authRoutes, { ...resolved.routes, service })
  }

  fastify.addHook('onClose', async () => {
    if (resolved.ownsService()) await service().close()
  })
}

/** The plugin: bearer authentication on every request, guards, and (optionally) the bundled routes. */
export const fastifyDrizzleAuth = fp(fastifyDrizzleAuthPlugin, {
  name: 'fastify-drizzle-auth',
  fastify: '5.x'
})
