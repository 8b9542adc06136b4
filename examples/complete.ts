/**
 * The seed page's complete example, ported to Fastify: hand-written routes on top of AuthService,
 * the global configure() pattern, the plugin registered with no options, loginRequired and requireAuth.
 * Run: npx tsx examples/complete.ts  (listens on 127.0.0.1:8000, database ./db.sqlite3)
 */
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyDrizzleAuth, {
  AuthenticationError, configure, loginRequired, requireAuth
} from '../src/index.ts'

interface Credentials { email: string, password: string }

// The Fastify idiom: a body schema, so a request without a password is a 400 before the handler runs.
const credentials = {
  body: {
    type: 'object',
    required: ['email', 'password'],
    properties: { email: { type: 'string', maxLength: 254 }, password: { type: 'string', maxLength: 1024 } }
  }
} as const

export async function buildApp (database = 'db.sqlite3', secret: string = process.env.AUTH_SECRET ?? randomBytes(32).toString('hex')): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  app.register(fastifyDrizzleAuth)

  // -- Routes ----------------------------------------------------------------
  app.post<{ Body: Credentials }>('/register', { schema: credentials }, async (request, reply) => {
    const { email, password } = request.body
    const user = await app.authService.register(email, password)
    return reply.code(201).send({ email: user.email })
  })

  app.post<{ Body: Credentials }>('/login', { schema: credentials }, async (request, reply) => {
    const { email, password } = request.body
    try {
      const result = await app.authService.login(email, password)
      return { access_token: result.accessToken, refresh_token: result.refreshToken }
    } catch (err) {
      if (err instanceof AuthenticationError) return reply.code(401).send({ detail: 'Invalid credentials' })
      throw err
    }
  })

  app.get('/me', { preHandler: loginRequired }, async (request) => {
    const user = requireAuth(request)
    return { email: user.email, is_verified: user.isVerified }
  })

  app.post('/logout', async (request) => {
    requireAuth(request)
    const token = String(request.headers.authorization).split(' ', 2)[1]
    await app.authService.logout(token)
    return { detail: 'Logged out' }
  })

  // -- Startup -----------------------------------------------------------------
  // As in the seed, configuration happens at start-up; the plugin creates its service on the first request.
  configure({ database, secret })
  await app.ready()
  return app
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await buildApp()
  await app.listen({ host: '127.0.0.1', port: 8000 })
  console.log('listening on http://127.0.0.1:8000')
}
