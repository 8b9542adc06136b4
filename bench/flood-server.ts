/**
 * The `npm start` application for bench/hash-floods.ts, with the hashing threads' priority taken from
 * BENCH_THREADS: `normal`, `idle` (the two `hashThreads` modes) or a nice value such as `10` (an alternative
 * measured against them, not an option). Its event-loop delay is measured from SIGUSR2 (reset) to SIGTERM, when
 * it prints `event loop {"p99":ms,"max":ms}`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { THREAD_PRIORITIES } from '../src/service/bcrypt-workers.ts'

const threads = process.env.BENCH_THREADS ?? 'normal'
if (threads !== 'normal' && threads !== 'idle') THREAD_PRIORITIES.normal = { nice: Number(threads), idle: false }
const { buildServer } = await import('../examples/server.ts')
const app = await buildServer({ ...process.env, LOG_LEVEL: 'silent', HASH_THREADS: threads === 'idle' ? 'idle' : 'normal' })
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address() as { port: number }
process.stdout.write(`listening http://127.0.0.1:${address.port}\n`)
const loop = monitorEventLoopDelay({ resolution: 1 })
loop.enable()
process.on('SIGUSR2', () => { loop.reset() })
process.once('SIGTERM', () => {
  loop.disable()
  process.stdout.write(`event loop ${JSON.stringify({ p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 })}\n`)
  app.close().then(() => process.exit(0), () => process.exit(1))
})
