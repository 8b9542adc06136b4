import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { cookieToken } from './cookies.ts'
import type { ResolvedTransport } from './options.ts'

/**
 * Binds a provider link to the browser that started it: a short-lived HttpOnly cookie (SameSite=Lax, so the
 * provider's top-level redirect back carries it) holding a MAC of the flow's state. Without it (and without
 * the starting user's session on the callback), a page could send someone to the callback of the attacker's
 * own link flow and link their provider identity to the attacker's account (link CSRF).
 */
export class FlowBinding {
  readonly #name: string
  readonly #secret: Buffer
  readonly #secure: boolean

  constructor (transport: ResolvedTransport, secret: Buffer) {
    this.#name = `${transport.names.access}_flow`
    this.#secret = secret
    this.#secure = transport.secure
  }

  set (reply: FastifyReply, authorizationUrl: string): void {
    const state = new URL(authorizationUrl).searchParams.get('state')!
    reply.setCookie(this.#name, this.#mac(state), { path: '/', httpOnly: true, secure: this.#secure, sameSite: 'lax', maxAge: 600 })
  }

  /** Whether the browser at the callback is the one that started the flow of `state`; a flow cookie that came is cleared either way. */
  holds (request: FastifyRequest, reply: FastifyReply, state: unknown): boolean {
    const presented = cookieToken(request, this.#name)
    if (presented === undefined) return false
    reply.clearCookie(this.#name, { path: '/', httpOnly: true, secure: this.#secure, sameSite: 'lax' })
    // Sent twice or malformed (a sibling subdomain tossing one in): no binding.
    if (presented === null) return false
    const expected = Buffer.from(this.#mac(String(state)))
    const given = Buffer.from(presented)
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  #mac (state: string): string {
    return createHmac('sha256', this.#secret).update(`provider flow:${state}`).digest('base64url')
  }
}
