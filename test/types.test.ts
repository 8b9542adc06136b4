/**
 * Checked by `tsc --noEmit` (part of `npm test`): request.user, request.auth and the guards are typed
 * for the application with no casts. A line marked @ts-expect-error fails the type check if it compiles.
 */
import Fastify from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth, {
  AnonymousUser, AuthService, type AuthUser, type FastifyDrizzleAuthOptions, loginRequired, requireAuth, requires
} from '../src/index.ts'
import { SECRET } from './fixtures/app.ts'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (_: T): void {}

t.test('request.user, request.auth and the guards type-check without casts', async (t) => {
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, bcryptRounds: 4 })
  t.teardown(() => app.close())

  app.get('/typed', { preHandler: [loginRequired, loginRequired(), loginRequired({ statusCode: 403 }), requires('read')] }, async (request) => {
    expectType<Equal<typeof request.user, AuthUser | AnonymousUser>>(true)
    const scopes: readonly string[] = request.auth.scopes
    const sessionId: string | null = request.auth.sessionId
    if (request.user.isAuthenticated) {
      // Narrowed by the discriminant: the user's fields, no cast.
      const email: string = request.user.email
      const verified: boolean = request.user.isVerified
      const lastLogin: Date | null = request.user.lastLogin
      return { email, verified, lastLogin, scopes, sessionId }
    }
    // @ts-expect-error an anonymous user has no email
    void request.user.email
    const user: AuthUser = requireAuth(request)
    // @ts-expect-error the password hash is never on request.user
    void user.passwordHash
    return { email: user.email }
  })

  const service: AuthService = app.authService
  const options: FastifyDrizzleAuthOptions = { database: ':memory:', secret: SECRET, scopes: (u) => [u.email] }
  // @ts-expect-error unknown option keys are refused
  const wrong: FastifyDrizzleAuthOptions = { database: ':memory:', secret: SECRET, nope: 1 }
  void wrong
  t.ok(service)
  t.ok(options)
  await app.ready()
})
