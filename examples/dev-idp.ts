/**
 * `npm run dev:idp`: a local OpenID provider (panva's oidc-provider, its development login and consent
 * pages) with a client ready for `npm start`, so the whole provider sign-in runs on one machine with no cloud
 * account. Any login name is accepted (any password); the address is the name when it holds an @, else
 * <name>@example.test, and it is said to be verified.
 * Environment: IDP_PORT (9000), APP_URL (http://127.0.0.1:8000, where `npm start` answers).
 * For development only: keys and sessions live in memory and vanish when it stops.
 */
import { generateKeyPairSync } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import Provider from 'oidc-provider'

export const DEV_CLIENT = { clientId: 'example-app', clientSecret: 'dev-only-secret-not-for-production' }

export interface DevIdp {
  issuer: string
  close: () => Promise<void>
}

export async function startDevIdp (appUrl: string, port: number, host = '127.0.0.1'): Promise<DevIdp> {
  const issuer = `http://${host}:${port}`
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const provider = new Provider(issuer, {
    clients: [{
      client_id: DEV_CLIENT.clientId,
      client_secret: DEV_CLIENT.clientSecret,
      redirect_uris: [`${appUrl.replace(/\/$/, '')}/oauth/oidc/callback`],
      grant_types: ['authorization_code'],
      response_types: ['code']
    }],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'dev', use: 'sig', alg: 'RS256' }] as never[] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    features: { devInteractions: { enabled: true } },
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({ sub, email: sub.includes('@') ? sub : `${sub}@example.test`, email_verified: true })
    })
  })
  const server = provider.listen(port, host)
  await new Promise<void>((resolve, reject) => { server.once('listening', resolve).once('error', reject) })
  return { issuer, close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) } }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const appUrl = process.env.APP_URL ?? 'http://127.0.0.1:8000'
  const idp = await startDevIdp(appUrl, Number(process.env.IDP_PORT ?? 9000))
  console.log(`Local OpenID provider at ${idp.issuer} (any login name, any password). Start the example with:\n\n` +
    `  OIDC_ISSUER=${idp.issuer} OIDC_CLIENT_ID=${DEV_CLIENT.clientId} OIDC_CLIENT_SECRET=${DEV_CLIENT.clientSecret} npm start\n`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { idp.close().then(() => process.exit(0), () => process.exit(1)) })
}
