/**
 * `npm start`: the seed's application with the plugin's bundled routes, on an SQLite file or PostgreSQL.
 * Environment: DATABASE_URL (a postgres:// URL; wins over DATABASE_PATH), DATABASE_PATH (./data/auth.sqlite), PORT (8000), HOST (127.0.0.1), AUTH_SECRET (its UTF-8 bytes;
 * random, with a warning, when unset), TRUST_PROXY (a hop count such as `1`, or addresses/CIDRs such as
 * `127.0.0.1,10.0.0.0/8`; unset trusts no proxy), AUTH_REFRESH_GRACE_SECONDS (10), BCRYPT_ROUNDS (12),
 * AUTH_REGISTRATIONS_PER_IP (registrations per client address per hour, 10), HASH_THREADS (`normal` or `idle`: the
 * hashing threads' CPU priority).
 * The OpenAPI document is served at /openapi.json, and its UI at /docs. The browser page is at / (cookies:
 * tokenTransport 'both'); ACCESS_TOKEN_TTL (seconds) shortens the access token, SECURE_COOKIES=false drops
 * Secure and the cookie prefixes (plain-HTTP development on a host other than localhost only).
 * Mail: SMTP_URL (smtp://user:pass@host:587) sends through that server (MAIL_FROM sets the sender); without it
 * every message is written as an .eml file under MAIL_DIR (./data/mail/). APP_URL (http://HOST:PORT) is where
 * the emailed links point: /verify, /reset and /confirm-email, pages that POST the token. OUTBOX_LEASE_MS (60000)
 * is how long a message a crashed process was sending waits before another process sends it. SESSION_CACHE_MS
 * (PostgreSQL) turns `sessionCache` on with that staleness cap. OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET add
 * a "Sign in with a provider" button (`npm run dev:idp` starts a local provider and prints them).
 */
import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fastifyDrizzleAuth, { directoryMailer, loginRequired, type Mailer, oidc, smtpMailer } from '../src/index.ts'

export type Env = Record<string, string | undefined>

/**
 * Fastify's `trustProxy` from TRUST_PROXY: a hop count, or a comma-separated list of addresses and CIDRs.
 * `true` (trust every hop) is refused: any client could then name its own address in X-Forwarded-For and
 * escape the per-address limits, or lock out someone else's address.
 *
 * A hop count N trusts the N nearest hops whoever they are (Fastify itself now treats a bare number as
 * "trust nothing"), so it is right only when the app cannot be reached except through those proxies;
 * addresses are the safer setting.
 */
export function trustProxyFrom (value: string | undefined): ((address: string, hop: number) => boolean) | string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) {
    const hops = Number(text)
    return (_address, hop) => hop < hops
  }
  if (/^(true|yes|on|\*)$/i.test(text)) {
    throw new Error(`TRUST_PROXY=${text} would trust every X-Forwarded-For hop, so any client could pick its own address ` +
      'and escape the rate limits: set the number of proxies in front of the app (e.g. 1) or their addresses (e.g. 127.0.0.1,10.0.0.0/8)')
  }
  const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  const bad = entries.find((entry) => !isAddressOrCidr(entry))
  if (bad !== undefined) {
    throw new Error(`TRUST_PROXY: '${bad}' is not an IP address or CIDR: set a hop count (e.g. 1) or addresses (e.g. 127.0.0.1,10.0.0.0/8)`)
  }
  return entries
}

function isAddressOrCidr (entry: string): boolean {
  const [address, bits, extra] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || extra !== undefined) return false
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128))
}

function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** SMTP_URL selects SMTP; otherwise each message becomes an .eml file under MAIL_DIR (never a log line). */
export function mailerFrom (env: Env): Mailer {
  const from = env.MAIL_FROM ?? 'fastify-drizzle-auth example <no-reply@localhost>'
  if (env.SMTP_URL !== undefined && env.SMTP_URL !== '') return smtpMailer(env.SMTP_URL, { from })
  return directoryMailer(env.MAIL_DIR ?? './data/mail', { from })
}

/**
 * OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (OIDC_LABEL names the button): one OpenID provider named
 * `oidc`, whose redirect URI is APP_URL/oauth/oidc/callback; browsers return to this app's page only.
 */
export function providersFrom (env: Env, appUrl: string) {
  const { OIDC_ISSUER: issuer, OIDC_CLIENT_ID: clientId, OIDC_CLIENT_SECRET: clientSecret } = env
  if (issuer === undefined || clientId === undefined || clientSecret === undefined) return {}
  return {
    providers: { oidc: oidc({ issuer, clientId, clientSecret, label: env.OIDC_LABEL ?? 'OpenID Connect' }) },
    oauth: { callbackBaseUrl: appUrl, allowedRedirects: [`${appUrl}/`] }
  }
}

export async function buildServer (env: Env = process.env): Promise<FastifyInstance> {
  const trustProxy = trustProxyFrom(env.TRUST_PROXY)
  const app = Fastify({
    ...(trustProxy === undefined ? {} : { trustProxy }),
    logger: env.LOG_LEVEL === 'silent'
      ? false
      : {
          level: env.LOG_LEVEL ?? 'info',
          // Credentials never reach the log: the bearer header, cookies and any body field that holds one.
          redact: {
            paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.refresh_token', '*.access_token'],
            censor: '[redacted]'
          }
        }
  })
  let secret = env.AUTH_SECRET
  if (secret === undefined || secret === '') {
    secret = randomBytes(32).toString('base64')
    app.log.warn('AUTH_SECRET is not set: using a random secret, so every token dies when this process stops. ' +
      'Set AUTH_SECRET to at least 32 random bytes in production.')
  }
  // OpenAPI: @fastify/swagger first, so it sees the bundled routes; the plugin adds its security scheme.
  await app.register(fastifySwagger, {
    openapi: { openapi: '3.0.3', info: { title: 'fastify-drizzle-auth example', version: '1.0.0' } }
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' })
  const appUrl = (env.APP_URL ?? `http://${env.HOST ?? '127.0.0.1'}:${env.PORT ?? 8000}`).replace(/\/$/, '')
  await app.register(fastifyDrizzleAuth, {
    database: env.DATABASE_URL ?? env.DATABASE_PATH ?? './data/auth.sqlite',
    secret,
    routes: true,
    mailer: mailerFrom(env),
    // The links open the pages below, which POST the token: a mail scanner's GET uses nothing up. The token
    // rides in the fragment, which browsers never send: it reaches no request log, proxy or Referer.
    links: {
      verifyEmail: `${appUrl}/verify#token={token}`,
      resetPassword: `${appUrl}/reset#token={token}`,
      changeEmail: `${appUrl}/confirm-email#token={token}`
    },
    ...(env.OUTBOX_LEASE_MS === undefined ? {} : { outbox: { leaseMs: Number(env.OUTBOX_LEASE_MS) } }),
    ...(env.SESSION_CACHE_MS === undefined ? {} : { sessionCache: { enabled: true, maxStalenessMs: Number(env.SESSION_CACHE_MS) } }),
    // The page at / uses cookies; the README's curl session keeps using bearer tokens.
    tokenTransport: 'both',
    ...(env.SECURE_COOKIES === 'false' ? { secureCookies: false } : {}),
    ...(env.ACCESS_TOKEN_TTL === undefined ? {} : { accessTokenTtl: Number(env.ACCESS_TOKEN_TTL) }),
    ...(env.AUTH_REFRESH_GRACE_SECONDS === undefined ? {} : { refreshReuseGraceSeconds: Number(env.AUTH_REFRESH_GRACE_SECONDS) }),
    ...(env.BCRYPT_ROUNDS === undefined ? {} : { bcryptRounds: Number(env.BCRYPT_ROUNDS) }),
    ...(env.HASH_THREADS === undefined ? {} : { hashThreads: env.HASH_THREADS as 'normal' | 'idle' }),
    ...(env.AUTH_REGISTRATIONS_PER_IP === undefined ? {} : { registrationRateLimit: { maxPerIp: Number(env.AUTH_REGISTRATIONS_PER_IP) } }),
    ...providersFrom(env, appUrl)
  })
  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }))
  // An application route behind the guard: documented with the bearer scheme without saying so here.
  app.get('/hello', {
    preHandler: loginRequired,
    schema: { summary: 'A greeting for the authenticated user', operationId: 'hello', tags: ['example'] }
  }, async (request) => ({ hello: request.user.displayName }))
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  // The browser page (plain HTML and JavaScript) at /, and a server-rendered page behind the guard.
  await app.register(fastifyStatic, { root: fileURLToPath(new URL('./public/', import.meta.url)), prefix: '/' })
  for (const page of ['/verify', '/reset', '/confirm-email']) {
    app.get(page, { schema: { hide: true } }, async (_request, reply) => reply.sendFile('account.html'))
  }
  app.get('/dashboard', { preHandler: loginRequired({ redirectUrl: '/' }), schema: { hide: true } }, async (request, reply) => {
    const email = request.user.isAuthenticated ? escapeHtml(request.user.email) : ''
    return reply.type('text/html; charset=utf-8')
      .send(`<!doctype html><title>Dashboard</title><h1>Dashboard</h1><p>Signed in as <strong>${email}</strong>.</p><p><a href="/">Back</a></p>`)
  })
  return app
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await buildServer()
  await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 8000) })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  }
}
