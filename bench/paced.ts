import { Agent, request } from 'node:http'

export interface PacedResult {
  requests: number
  non2xx: number
  /** Latencies in milliseconds, to the microsecond (autocannon reports whole milliseconds). */
  p50: number
  p99: number
}

/**
 * GET `url` at a fixed rate over `connections` keep-alive connections for `seconds`, timing each request
 * from the moment it is written to the end of its response with the high-resolution clock.
 */
export async function pacedGet (url: string, headers: Record<string, string>, rate: number, connections: number, seconds: number): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const latencies: number[] = []
  let non2xx = 0
  let inFlight = 0
  const one = () => new Promise<void>((resolve) => {
    const started = process.hrtime.bigint()
    inFlight++
    const req = request(url, { agent, headers }, (res) => {
      res.resume()
      res.on('end', () => {
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6)
        if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) non2xx++
        inFlight--
        resolve()
      })
    })
    req.on('error', () => { non2xx++; inFlight--; resolve() })
    req.end()
  })
  const pending: Array<Promise<void>> = []
  const start = performance.now()
  const total = Math.round(rate * seconds)
  for (let sent = 0; sent < total;) {
    const due = Math.min(total, Math.floor((performance.now() - start) * rate / 1000) + 1)
    // Never more than one request waiting per connection: a slow server is measured, not buried in a queue.
    // eslint-disable-next-line no-unmodified-loop-condition -- each request's end lowers inFlight
    while (sent < due && inFlight < connections) { pending.push(one()); sent++ }
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await Promise.all(pending)
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  return { requests: latencies.length, non2xx, p50: at(0.5), p99: at(0.99) }
}
