import type { RoutesOptions } from './routes/options.ts'
import { CONFIG_KEY_TREE, type KeyTree } from './service/config-keys.ts'
import type { CookieOptions, CsrfOptions, TransportOptions } from './transport/options.ts'

const COOKIES: KeyTree<CookieOptions> = {
  names: { access: true, refresh: true, csrf: true },
  sameSite: { access: true, refresh: true },
  refreshPath: true
}
const CSRF: KeyTree<CsrfOptions> = { trustedOrigins: true, allowSameSite: true, doubleSubmit: true }
const TRANSPORT: KeyTree<TransportOptions> = { tokenTransport: true, cookies: COOKIES, secureCookies: true, csrf: CSRF }
const ROUTES: KeyTree<RoutesOptions> = { prefix: true, bodyLimit: true, tags: true, registerFields: true, registerRequired: true, meFields: true }

/** Every key the plugin accepts: the service's, the transport's, its own, and those Fastify gives every plugin. */
export const PLUGIN_KEY_TREE = {
  ...CONFIG_KEY_TREE,
  ...TRANSPORT,
  authService: true,
  scopes: true,
  routes: ROUTES,
  prefix: true,
  logLevel: true,
  logSerializers: true
} as const
