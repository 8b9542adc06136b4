/**
 * The stateless alternative, written the way an application would write it and nothing of the plugin loaded:
 * Fastify + @fastify/jwt with the same secret, HS256 tokens of 15 minutes, `await request.jwtVerify()` in the
 * handler, the answer taken from the claims. It accepts the plugin's access tokens (same key, same algorithm)
 * but would also accept them after a logout: that is the trade-off it stands for.
 */
import fastifyJwt from '@fastify/jwt'
import Fastify from 'fastify'

const app = Fastify({ logger: false })
await app.register(fastifyJwt, { secret: process.env.AUTH_SECRET ?? '', sign: { algorithm: 'HS256', expiresIn: '15m' } })
app.get('/hello', async (request) => {
  await request.jwtVerify()
  return { hello: (request.user as unknown as { sub: string }).sub }
})
await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`listening http://127.0.0.1:${(app.server.address() as { port: number }).port}\n`)
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
