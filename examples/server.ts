/**
 * `npm start`: the seed's application with the plugin's bundled routes, on an SQLite file or PostgreSQL.
 * Environment: DATABASE_URL (a postgres:// URL; wins over DATABASE_PATH), DATABASE_PATH (./data/auth.sqlite), PORT (8000), HOST (127.0.0.1), AUTH_SECRET (its UTF-8 bytes;
 * random, with a warning, when unset), TRUST_PROXY=1, AUTH_REFRESH_GRACE_SECONDS (10), BCRYPT_ROUNDS (12).
 */
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyDrizzleAuth from '../src/index.ts'

export type Env = Record<string, string | undefined>

export async function buildServer (env: Env = process.env): Promise<FastifyInstance> {
  const app = Fastify({
    trustProxy: env.TRUST_PROXY === '1',
    logger: env.LOG_LEVEL === 'silent'
      ? false
      : {
          level: env.LOG_LEVEL ?? 'info',
          // Credentials never reach the log: the bearer header, cookies and any body field that holds one.
          redact: {
            paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.refresh_token', '*.access_token'],
            censor: '[redacted]'
          }
        }
  })
  let secret = env.AUTH_SECRET
  if (secret === undefined || secret === '') {
    secret = randomBytes(32).toString('base64')
    app.log.warn('AUTH_SECRET is not set: using a random secret, so every token dies when this process stops. ' +
      'Set AUTH_SECRET to at least 32 random bytes in production.')
  }
  await app.register(fastifyDrizzleAuth, {
    database: env.DATABASE_URL ?? env.DATABASE_PATH ?? './data/auth.sqlite',
    secret,
    routes: true,
    ...(env.AUTH_REFRESH_GRACE_SECONDS === undefined ? {} : { refreshReuseGraceSeconds: Number(env.AUTH_REFRESH_GRACE_SECONDS) }),
    ...(env.BCRYPT_ROUNDS === undefined ? {} : { bcryptRounds: Number(env.BCRYPT_ROUNDS) })
  })
  app.get('/health', async () => ({ status: 'ok' }))
  return app
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await buildServer()
  await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 8000) })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  }
}
