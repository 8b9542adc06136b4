/**
 * The server under test: the `npm start` application (examples/server.ts, the plugin on an SQLite file),
 * plus the stateless alternative for comparison. Started by bench/run.ts in a child process.
 */
import { createVerifier } from 'fast-jwt'
import { buildServer } from '../examples/server.ts'

const app = await buildServer({ ...process.env, LOG_LEVEL: 'silent' })

// S3: protected only by a stateless signature check (fast-jwt, the engine of @fastify/jwt: same key, pinned
// algorithm), no database. The plugin refuses an @fastify/jwt that shares its key, since that one would accept
// revoked tokens; `authenticate: false` keeps the plugin's hook off this route, so it pays only for what it uses.
const verifyStateless = createVerifier({ key: Buffer.from(process.env.AUTH_SECRET ?? '', 'utf8'), algorithms: ['HS256'] })
app.get('/me-stateless', {
  config: { authenticate: false },
  onRequest: async (request) => {
    const claims = verifyStateless((request.headers.authorization ?? '').slice(7)) as { sub: string }
    request.auth = { scopes: [claims.sub], sessionId: null, tokenStatus: 'valid', transport: 'bearer', amr: [] }
  }
}, async (request) => ({ id: request.auth.scopes[0] }))

// Bench-only: a full collection before the harness reads the resident memory (the server runs with --expose-gc).
app.get('/__bench/gc', { config: { authenticate: false } }, async () => {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  return process.memoryUsage()
})

// Bench-only: the remembered-lookup counters (none on PostgreSQL without sessionCache).
app.get('/__bench/stats', { config: { authenticate: false } }, async () => {
  const lookups = app.authService.store.diagnostics?.().sessionLookups
  return { hits: lookups?.hits ?? 0, misses: lookups?.misses ?? 0, sharedReads: lookups?.sharedReads }
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
const address = app.server.address() as { port: number }
process.stdout.write(`listening http://127.0.0.1:${address.port}\n`)
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
