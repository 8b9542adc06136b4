/**
 * The server under test: the `npm start` application (examples/server.ts, the plugin on an SQLite file),
 * plus the stateless alternative for comparison. Started by bench/run.ts in a child process.
 */
import { buildServer } from '../examples/server.ts'

const app = await buildServer({ ...process.env, LOG_LEVEL: 'silent' })

// S3: protected only by @fastify/jwt's request.jwtVerify() (same key, pinned algorithm), no database.
// `authenticate: false` keeps the plugin's hook off this route, so it pays only for what it uses.
app.get('/me-stateless', {
  config: { authenticate: false },
  onRequest: async (request) => { await request.jwtVerify() }
}, async (request) => ({ id: (request.user as unknown as { sub: string }).sub }))

// Bench-only: a full collection before the harness reads the resident memory (the server runs with --expose-gc).
app.get('/__bench/gc', { config: { authenticate: false } }, async () => {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  return process.memoryUsage()
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
const address = app.server.address() as { port: number }
process.stdout.write(`listening http://127.0.0.1:${address.port}\n`)
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
