/**
 * The OpenAPI document @fastify/swagger builds with the plugin, validated against the OpenAPI 3
 * schema by @apidevtools/swagger-parser: the bearer scheme, security on every route (bundled and the
 * application's guarded ones), tags, summaries, stable operation ids, one shared error schema.
 */
import SwaggerParser from '@apidevtools/swagger-parser'
import fastifySwagger from '@fastify/swagger'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, {
  oidc,
  ConfigurationError, ERROR_SCHEMA_ID, loginRequired, requires, securitySchemes, type FastifyDrizzleAuthOptions
} from '../src/index.ts'
import { SECRET } from './fixtures/app.ts'

type Doc = {
  components: { securitySchemes?: Record<string, unknown>, schemas: Record<string, { title?: string }> }
  paths: Record<string, Record<string, {
    tags?: string[], summary?: string, operationId?: string, security?: unknown[], responses: Record<string, any>
  }>>
}

const BUNDLED = {
  '/register': ['post', 'authRegister', false],
  '/login': ['post', 'authLogin', false],
  '/refresh': ['post', 'authRefresh', false],
  '/logout': ['post', 'authLogout', true],
  '/me': ['get', 'authMe', true],
  '/password': ['post', 'authChangePassword', true]
} as const

async function documented (options: Partial<FastifyDrizzleAuthOptions> = {}, swaggerOptions: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, doc: Doc }> {
  const app = Fastify()
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } }
    },
    ...swaggerOptions
  })
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4, routes: true, ...options })
  app.get('/private', { preHandler: loginRequired }, async () => 'ok')
  app.get('/admin', { onRequest: [requires('admin')], schema: { summary: 'admin only' } }, async () => 'ok')
  app.get('/custom', { preHandler: loginRequired({ statusCode: 403 }), schema: { security: [{ apiKey: [] }] } }, async () => 'ok')
  app.get('/public', async () => 'ok')
  await app.ready()
  return { app, doc: app.swagger() as unknown as Doc }
}

t.test('the document is valid OpenAPI 3 and documents every bundled route', async (t) => {
  const { app, doc } = await documented()
  t.teardown(() => app.close())
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'valid against the OpenAPI 3 schema')
  t.same(doc.components.securitySchemes, {
    apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
    bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }
  }, 'the application\'s scheme and the bearer one')
  for (const [path, [method, operationId, bearer]] of Object.entries(BUNDLED)) {
    const operation = doc.paths[path]?.[method]
    t.ok(operation, `${method} ${path} is documented`)
    t.equal(operation.operationId, operationId, `${path}: operationId`)
    t.same(operation.tags, ['auth'], `${path}: tags`)
    t.type(operation.summary, 'string', `${path}: a summary`)
    t.same(operation.security, bearer ? [{ bearerAuth: [] }] : [], `${path}: security`)
    const errorRefs = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400)
    t.ok(errorRefs.length >= 5, `${path}: its error responses`)
    for (const [status, response] of errorRefs) {
      const ref = response.content['application/json'].schema.$ref as string
      t.match(ref, /^#\/components\/schemas\//, `${path} ${status}: a reference`)
      t.equal(doc.components.schemas[ref.split('/').pop()!].title, ERROR_SCHEMA_ID, `${path} ${status}: to the shared error schema`)
    }
  }
  t.equal(Object.values(doc.components.schemas).filter((schema) => schema.title === ERROR_SCHEMA_ID).length, 1, 'one error schema')
})

t.test("the application's guarded routes get security by themselves; others are left as written", async (t) => {
  const { app, doc } = await documented()
  t.teardown(() => app.close())
  t.same(doc.paths['/private'].get.security, [{ bearerAuth: [] }], 'loginRequired as preHandler')
  t.same(doc.paths['/admin'].get.security, [{ bearerAuth: [] }], 'requires() as onRequest')
  t.equal(doc.paths['/admin'].get.summary, 'admin only', 'its own schema kept')
  t.same(doc.paths['/custom'].get.security, [{ apiKey: [] }], 'a security the application wrote stays')
  t.equal(doc.paths['/public'].get.security, undefined, 'an unguarded route gets none')
  const res = await app.inject({ url: '/private' })
  t.equal(res.statusCode, 401, 'and the guard still guards')
})

t.test('tags are configurable, the prefix shows in the paths, and the YAML document has the scheme too', async (t) => {
  const { app, doc } = await documented({ routes: { prefix: '/auth', tags: ['accounts', 'security'] } })
  t.teardown(() => app.close())
  t.same(doc.paths['/auth/login'].post.tags, ['accounts', 'security'])
  t.equal(doc.paths['/login'], undefined)
  t.match(app.swagger({ yaml: true }), /bearerAuth:\n\s+type: http\n\s+scheme: bearer\n\s+bearerFormat: JWT/)
})

t.test('an application that configures swagger with the exported securitySchemes gets the same scheme', async (t) => {
  const { app, doc } = await documented({}, {
    openapi: { openapi: '3.0.3', info: { title: 't', version: '1' }, components: { securitySchemes: { ...securitySchemes, apiKey: { type: 'apiKey', in: 'header', name: 'k' } } } }
  })
  t.teardown(() => app.close())
  t.same(doc.components.securitySchemes?.bearerAuth, securitySchemes.bearerAuth)
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never))
})

t.test('@fastify/swagger registered after the plugin: ready() fails and says to register it first', async (t) => {
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4, routes: true })
  await app.register(fastifySwagger, { openapi: { info: { title: 't', version: '1' } } })
  const err = await app.ready().then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof ConfigurationError)
  t.match((err as Error).message, /register @fastify\/swagger first/)
  await app.close().catch(() => {})

  const noRoutes = Fastify()
  await noRoutes.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  await noRoutes.register(fastifySwagger, { openapi: { info: { title: 't', version: '1' }, components: { securitySchemes } } })
  noRoutes.get('/private', { preHandler: loginRequired }, async () => 'ok')
  await noRoutes.ready()
  t.teardown(() => noRoutes.close())
  t.same((noRoutes.swagger() as unknown as Doc).paths['/private'].get.security, [{ bearerAuth: [] }],
    'without bundled routes the order does not matter: the guarded routes come later anyway')

  const withoutScheme = Fastify()
  await withoutScheme.register(fastifySwagger, { openapi: { info: { title: 't', version: '1' } } })
  await withoutScheme.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  withoutScheme.get('/private', { preHandler: loginRequired }, async () => 'ok')
  await withoutScheme.ready()
  t.teardown(() => withoutScheme.close())
  t.throws(() => withoutScheme.swagger(), { name: 'ConfigurationError', message: /pass `openapi: \{ components: \{ securitySchemes \} \}`/ },
    'guarded routes, no bundled ones, no scheme in the options: building the document says what to add')
})

t.test('without bundled routes or guarded routes the document is left alone; other failures are its own', async (t) => {
  const plain = Fastify()
  await plain.register(fastifySwagger, { openapi: { info: { title: 't', version: '1' } } })
  await plain.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  plain.get('/open', async () => 'ok')
  await plain.ready()
  t.teardown(() => plain.close())
  t.ok((plain.swagger() as unknown as Doc).paths['/open'], 'no guard, no bundled route: nothing to add')

  const failing = Fastify()
  await failing.register(fastifySwagger, {
    openapi: { info: { title: 't', version: '1' }, components: { securitySchemes } },
    transformObject: () => { throw new RangeError('the application\'s own transform failed') }
  })
  await failing.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  failing.get('/private', { preHandler: loginRequired }, async () => 'ok')
  await failing.ready()
  t.teardown(() => failing.close())
  t.throws(() => failing.swagger(), RangeError, 'an error that is not the missing scheme passes through unchanged')
})

t.test('with cookies the document says so: a cookie scheme, and bearer or cookie as alternatives (or cookie alone)', async (t) => {
  for (const [tokenTransport, security] of [
    ['both', [{ bearerAuth: [] }, { cookieAuth: [] }]],
    ['cookie', [{ cookieAuth: [] }]]
  ] as const) {
    const { app, doc } = await documented({ tokenTransport, cookies: { names: { access: '__Host-session' } } })
    t.teardown(() => app.close())
    await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), `${tokenTransport}: valid`)
    t.same(doc.components.securitySchemes?.cookieAuth, { type: 'apiKey', in: 'cookie', name: '__Host-session' })
    t.equal(doc.components.securitySchemes?.bearerAuth === undefined, tokenTransport === 'cookie', `${tokenTransport}: the bearer scheme only when bearer is read`)
    t.same(doc.paths['/me'].get.security, security, `${tokenTransport}: /me`)
    t.same(doc.paths['/private'].get.security, security, `${tokenTransport}: a guarded application route`)
    t.same(doc.paths['/login'].post.security, [], `${tokenTransport}: /login stays public`)
  }
})

t.test('provider sign-in routes are documented: the redirects with their Location, the exchange with the /login schema', async (t) => {
  const providers = { corp: oidc({ issuer: 'https://idp.example', clientId: 'id', clientSecret: 'secret' }) }
  const { app, doc } = await documented({ providers, oauth: { callbackBaseUrl: 'https://api.example', allowedRedirects: ['https://app.example'] } })
  t.teardown(() => app.close())
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'valid against the OpenAPI 3 schema')
  const routes = {
    '/oauth/providers': ['get', 'authListProviders', false],
    '/oauth/{provider}': ['get', 'authProviderStart', false],
    '/oauth/{provider}/link': ['post', 'authProviderLink', true],
    '/oauth/{provider}/callback': ['get', 'authProviderCallback', false],
    '/oauth/token': ['post', 'authProviderToken', false],
    '/oauth/link/complete': ['post', 'authProviderLinkComplete', true],
    '/accounts': ['get', 'authListAccounts', true],
    '/accounts/{provider}': ['delete', 'authUnlinkAccount', true]
  } as const
  for (const [path, [method, operationId, secured]] of Object.entries(routes)) {
    const operation = doc.paths[path]?.[method]
    t.equal(operation?.operationId, operationId, `${method} ${path}`)
    t.same(operation?.security, secured ? [{ bearerAuth: [] }] : [], `${path}: security`)
  }
  for (const path of ['/oauth/{provider}', '/oauth/{provider}/callback']) {
    t.ok(doc.paths[path].get.responses['302'].headers.location, `${path}: a 302 with its Location`)
  }
  t.same(doc.paths['/oauth/token'].post.responses['200'], doc.paths['/login'].post.responses['200'], 'the exchange answers what /login answers')
})
