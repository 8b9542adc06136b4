/** A bare Fastify process: the same route with no authentication at all, the ceiling of any check. */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/hello', async () => ({ hello: 'world' }))
await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`listening http://127.0.0.1:${(app.server.address() as { port: number }).port}\n`)
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
