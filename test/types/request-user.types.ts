/**
 * Type tests, checked by `tsc --noEmit` (part of `npm test`) and never run: request.user, request.auth and the
 * guards are typed for the application with no casts. A line marked @ts-expect-error fails the type check if
 * it compiles; an `expectType` of a wrong type fails it too.
 */
import Fastify from 'fastify'
import fastifyDrizzleAuth, {
  AnonymousUser, AuthService, type AuthUser, type FastifyDrizzleAuthOptions, loginRequired, requireAuth, requires
} from '../../src/index.ts'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (_: T): void {}

export async function requestUserIsTyped (secret: string): Promise<void> {
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { database: ':memory:', secret, bcryptRounds: 4 })

  app.get('/typed', { preHandler: [loginRequired, loginRequired(), loginRequired({ statusCode: 403 }), requires('read')] }, async (request) => {
    expectType<Equal<typeof request.user, AuthUser | AnonymousUser>>(true)
    // @ts-expect-error the user is not any: a wrong type is refused
    expectType<Equal<typeof request.user, AuthUser>>(true)
    const scopes: readonly string[] = request.auth.scopes
    const sessionId: string | null = request.auth.sessionId
    expectType<Equal<typeof request.auth.amr, readonly string[]>>(true)
    if (request.user.isAuthenticated) {
      // Narrowed by the discriminant: the user's fields, no cast.
      const email: string = request.user.email
      const verified: boolean = request.user.isVerified
      const lastLogin: Date | null = request.user.lastLogin
      return { email, verified, lastLogin, scopes, sessionId }
    }
    expectType<Equal<typeof request.user, AnonymousUser>>(true)
    // @ts-expect-error an anonymous user has no email
    void request.user.email
    const user: AuthUser = requireAuth(request)
    // @ts-expect-error the password hash is never on request.user
    void user.passwordHash
    return { email: user.email }
  })

  const service: AuthService = app.authService
  void service
}

export const options: FastifyDrizzleAuthOptions = { database: ':memory:', secret: 'x'.repeat(32), scopes: (u) => [u.email] }
// @ts-expect-error unknown option keys are refused
export const wrong: FastifyDrizzleAuthOptions = { database: ':memory:', secret: 'x'.repeat(32), nope: 1 }
