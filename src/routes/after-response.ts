import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { AfterAnswer } from '../service/account-flows.ts'

// A route hands the service at most one job per request.
const deferred = new WeakMap<FastifyRequest, () => Promise<void>>()

/** The scheduler a route hands the service: the work waits until this request's response has been sent. */
export function afterResponse (request: FastifyRequest): AfterAnswer {
  return (work) => { deferred.set(request, work) }
}

/** The route's onResponse hook that runs what `afterResponse` kept (the job logs its own failure). */
export function runAfterResponse (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  done()
  const work = deferred.get(request)
  if (work === undefined) return
  deferred.delete(request)
  void work()
}
