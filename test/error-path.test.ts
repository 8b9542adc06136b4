/**
 * One error path: every denial is an AuthError handed to Fastify; the application's own error handler (root or
 * child, set before or after the plugin) receives it and may restyle it; without one, or when it passes the
 * error on, the plugin's formatter answers with the documented bodies.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, { AuthError, ConflictError, loginRequired, requireAuth } from '../src/index.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'

const AUTH_REQUIRED = '{"detail":"Authentication required"}'

function restyle (error: FastifyError, _request: unknown, reply: { code: (n: number) => { send: (b: unknown) => unknown } }) {
  if (error instanceof AuthError) return reply.code(error.statusCode).send({ error: { kind: error.code, status: error.statusCode } })
  throw error
}

async function app (setup: (app: FastifyInstance) => Promise<void> | void, before?: (app: FastifyInstance) => void) {
  const instance = Fastify()
  before?.(instance)
  await instance.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4, routes: true, registrationRateLimit: false })
  await setup(instance)
  await instance.ready()
  return instance
}

t.test('without an application handler: the guard, requireAuth and a bundled route answer with the documented bodies', async (t) => {
  const a = await app((a) => {
    a.get('/guarded', { preHandler: loginRequired }, async () => 'ran')
    a.get('/strict', async (request) => requireAuth(request).email)
  })
  t.teardown(() => a.close())
  for (const url of ['/guarded', '/strict']) {
    const res = await a.inject({ url })
    t.same([res.statusCode, res.body, res.headers['www-authenticate']], [401, AUTH_REQUIRED, 'Bearer'], url)
  }
  await a.inject({ method: 'POST', url: '/register', payload: { email: 'a@example.com', password: PASSWORD } })
  const taken = await a.inject({ method: 'POST', url: '/register', payload: { email: 'a@example.com', password: PASSWORD } })
  t.same([taken.statusCode, taken.json()], [409, { detail: 'Email is already registered', code: 'email_taken' }])
})

for (const when of ['after', 'before'] as const) {
  t.test(`a root error handler set ${when} the plugin restyles a guard's 401 and a bundled route's 409`, async (t) => {
    const seen: unknown[] = []
    const handler = function (this: FastifyInstance, error: FastifyError, request: unknown, reply: Parameters<typeof restyle>[2]) {
      seen.push(error)
      return restyle(error, request, reply)
    }
    const a = await app((a) => {
      if (when === 'after') a.setErrorHandler(handler)
      a.get('/guarded', { preHandler: loginRequired }, async () => 'ran')
    }, (a) => { if (when === 'before') a.setErrorHandler(handler) })
    t.teardown(() => a.close())
    const denied = await a.inject({ url: '/guarded' })
    t.same([denied.statusCode, denied.json()], [401, { error: { kind: 'authentication_required', status: 401 } }])
    await a.inject({ method: 'POST', url: '/register', payload: { email: 'a@example.com', password: PASSWORD } })
    const taken = await a.inject({ method: 'POST', url: '/register', payload: { email: 'a@example.com', password: PASSWORD } })
    t.same([taken.statusCode, taken.json()], [409, { error: { kind: 'email_taken', status: 409 } }])
    t.ok(seen.some((e) => e instanceof ConflictError), 'the handler received the ConflictError itself')
  })
}

t.test('a handler in a child context restyles its routes only; one that passes an AuthError on gets the formatter', async (t) => {
  const a = await app(async (a) => {
    await a.register(async (child) => {
      child.setErrorHandler(restyle)
      child.get('/child/guarded', { preHandler: loginRequired }, async () => 'ran')
    })
    await a.register(async (child) => {
      child.setErrorHandler((error) => { throw error })
      child.get('/passing/guarded', { preHandler: loginRequired }, async () => 'ran')
    })
    a.get('/root/guarded', { preHandler: loginRequired }, async () => 'ran')
  })
  t.teardown(() => a.close())
  t.same((await a.inject({ url: '/child/guarded' })).json(), { error: { kind: 'authentication_required', status: 401 } })
  for (const url of ['/passing/guarded', '/root/guarded']) {
    const res = await a.inject({ url })
    t.same([res.statusCode, res.body], [401, AUTH_REQUIRED], url)
  }
})

t.test('other errors go through the application\'s handlers untouched; a 429 keeps Retry-After', async (t) => {
  const a = await app((a) => {
    a.setErrorHandler((error: Error, _request, reply) => reply.code(418).send({ mine: error.message }))
    a.get('/boom', async () => { throw new Error('not ours') })
  })
  t.teardown(() => a.close())
  t.same((await a.inject({ url: '/boom' })).json(), { mine: 'not ours' })
  const b = await app((b) => { b.get('/guarded', { preHandler: loginRequired }, async () => 'ran') })
  t.teardown(() => b.close())
  for (let i = 0; i < 5; i++) await b.inject({ method: 'POST', url: '/login', payload: { email: 'x@example.com', password: 'Wrong-Pass-1' } })
  const limited = await b.inject({ method: 'POST', url: '/login', payload: { email: 'x@example.com', password: 'Wrong-Pass-1' } })
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) > 0)
})

t.test('a route declared before the plugin still gets the guard\'s body', async (t) => {
  const a = Fastify()
  a.get('/early', { preHandler: loginRequired }, async () => 'ran')
  await a.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  t.teardown(() => a.close())
  const res = await a.inject({ url: '/early' })
  t.same([res.statusCode, res.body, res.headers['www-authenticate']], [401, AUTH_REQUIRED, 'Bearer'])
})

t.test('an application handler may answer by returning a value; one that neither answers nor returns leaves it to the formatter', async (t) => {
  const a = await app(async (a) => {
    await a.register(async (child) => {
      child.setErrorHandler(async (error: Error) => ({ returned: error.message }))
      child.get('/returns', { preHandler: loginRequired }, async () => 'ran')
    })
    await a.register(async (child) => {
      child.setErrorHandler(async () => undefined)
      child.get('/silent', { preHandler: loginRequired }, async () => 'ran')
    })
  })
  t.teardown(() => a.close())
  const returned = await a.inject({ url: '/returns' })
  t.same(returned.json(), { returned: 'Authentication required' })
  const silent = await a.inject({ url: '/silent' })
  t.same([silent.statusCode, silent.body], [401, AUTH_REQUIRED])
})

t.test('a route\'s own errorHandler option is offered AuthErrors first, and still gets every other error', async (t) => {
  const a = await app((a) => {
    a.get('/own', {
      preHandler: loginRequired,
      errorHandler: (error, _request, reply) => { void reply.code(499).send({ own: error instanceof AuthError }) }
    }, async () => 'ran')
    a.get('/own-other', {
      errorHandler: (error, _request, reply) => { void reply.code(418).send({ own: error.message }) }
    }, async () => { throw new Error('not an auth error') })
  })
  t.teardown(() => a.close())
  t.same([(await a.inject({ url: '/own' })).statusCode, (await a.inject({ url: '/own' })).json()], [499, { own: true }])
  t.same((await a.inject({ url: '/own-other' })).json(), { own: 'not an auth error' })
})

t.test('an application handler that turns a denial into an error of its own hands that one on to Fastify', async (t) => {
  const a = await app(async (a) => {
    await a.register(async (child) => {
      child.setErrorHandler(() => { throw Object.assign(new Error('teapot'), { statusCode: 418 }) })
      child.get('/converted', { preHandler: loginRequired }, async () => 'ran')
    })
  })
  t.teardown(() => a.close())
  const res = await a.inject({ url: '/converted' })
  t.equal(res.statusCode, 418)
  t.match(res.json(), { message: 'teapot' })
})
