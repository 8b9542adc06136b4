/**
 * Type tests of the options, checked by `tsc --noEmit` and never run: the public option types come from the
 * one declaration, so a wrong value or an unknown key fails to compile, and the resolved config carries the
 * defaults as plain values.
 */
import fastifyDrizzleAuth, { AuthService, type AuthConfig, type FastifyDrizzleAuthOptions, type ResolvedConfig } from '../../src/index.ts'
import Fastify from 'fastify'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (_: T): void {}

export async function optionsAreTyped (secret: string): Promise<void> {
  const good: AuthConfig = {
    database: ':memory:', secret, accessTokenTtl: 60, loginRateLimit: { windowSeconds: 60 }, registrationRateLimit: false, hashThreads: 'idle', clock: () => 0
  }
  new AuthService(good) // eslint-disable-line no-new
  // @ts-expect-error a number where a string is wanted
  const badIssuer: AuthConfig = { issuer: 1 }
  // @ts-expect-error a value outside the declared choices
  const badThreads: AuthConfig = { hashThreads: 'low' }
  // @ts-expect-error an unknown key inside a group
  const badGroup: AuthConfig = { loginRateLimit: { windowSecond: 60 } }
  // @ts-expect-error a group that cannot be turned off
  const badOutbox: AuthConfig = { outbox: false }
  const plugin: FastifyDrizzleAuthOptions = { ...good, routes: { prefix: '/auth' }, tokenTransport: 'both', csrf: { trustedOrigins: ['https://app.example'] } }
  // @ts-expect-error the plugin's own options are not the service's
  const serviceOnly: AuthConfig = { tokenTransport: 'both' }
  await Fastify().register(fastifyDrizzleAuth, plugin)

  const resolved = new AuthService(good).config
  expectType<Equal<typeof resolved, ResolvedConfig>>(true)
  expectType<Equal<typeof resolved.accessTokenTtl, number>>(true)
  expectType<Equal<typeof resolved.issuer, string | undefined>>(true)
  expectType<Equal<typeof resolved.secret, Buffer>>(true)
  expectType<Equal<typeof resolved.account.outbox.leaseMs, number>>(true)
  if (resolved.loginRateLimit !== false) expectType<Equal<typeof resolved.loginRateLimit.windowSeconds, number>>(true)
  void [badIssuer, badThreads, badGroup, badOutbox, serviceOnly]
}
