import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { AfterAnswer } from '../service/account-flows.ts'

const deferred = new WeakMap<FastifyRequest, Array<() => Promise<void>>>()

/** The scheduler a route hands the service: the work waits until this request's response has been sent. */
export function afterResponse (request: FastifyRequest): AfterAnswer {
  return (work) => {
    const list = deferred.get(request)
    if (list === undefined) deferred.set(request, [work])
    else list.push(work)
  }
}

/** The route's onResponse hook that runs what `afterResponse` kept (each job logs its own failure). */
export function runAfterResponse (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  done()
  const list = deferred.get(request)
  if (list === undefined) return
  deferred.delete(request)
  for (const work of list) void work()
}
