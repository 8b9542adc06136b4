import { createServer } from 'node:http'
import { connect } from 'node:net'
import t, { type Test } from 'tap'
import { bearer, buildApp as buildAppOn, registerAndLogin, SECRET } from './fixtures/app.ts'
import { b64, decodePart, forge } from './fixtures/jwt.ts'
import { availableDialects } from './fixtures/databases.ts'

// One suite, run once per dialect the machine has (PostgreSQL is required under CI).
for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    const buildApp = (options: Parameters<typeof buildAppOn>[0] = {}, fastifyOptions: Parameters<typeof buildAppOn>[1] = {}) =>
      buildAppOn(options, fastifyOptions, dialect)

    /** An app whose /probe tells what the hook decided, beside the bundled routes. */
    async function probeApp (options = {}) {
      const app = await buildApp(options)
      app.get('/probe', async (request) => ({ authenticated: request.user.isAuthenticated, scopes: request.auth.scopes }))
      return app
    }

    /** Rejected means: anonymous in the hook, 401 from loginRequired, never a 5xx. */
    async function assertRejected (t: Test, app: Awaited<ReturnType<typeof probeApp>>, headers: Record<string, string | string[]>, name: string) {
      const probe = await app.inject({ url: '/probe', headers })
      t.same(probe.json(), { authenticated: false, scopes: [] }, `${name}: anonymous`)
      const me = await app.inject({ url: '/me', headers })
      t.equal(me.statusCode, 401, `${name}: loginRequired answers 401`)
      t.equal(me.body, '{"detail":"Authentication required"}', `${name}: guard body`)
    }

    t.test('alg none, other HMAC algorithms, edited payloads, bad signatures and segments are all rejected', async (t) => {
      const app = await probeApp()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      t.equal((await app.inject({ url: '/probe', headers: bearer(accessToken) })).json().authenticated, true, 'the original is good')
      const header = decodePart(accessToken, 0)
      const payload = decodePart(accessToken, 1)
      const [h, p, s] = accessToken.split('.')
      const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11)
      const forged: Record<string, string> = {
        'alg none, no signature': `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`,
        'alg none, signature kept': `${b64({ alg: 'none', typ: 'JWT' })}.${p}.${s}`,
        'alg NONE': `${b64({ alg: 'NONE', typ: 'JWT' })}.${p}.`,
        'HS384 re-signed with the right key': forge({ ...header, alg: 'HS384' }, payload, SECRET, 'sha384'),
        'HS512 re-signed with the right key': forge({ ...header, alg: 'HS512' }, payload, SECRET, 'sha512'),
        'RS256 header on an HMAC signature': forge({ ...header, alg: 'RS256' }, payload, SECRET),
        'header typ other than JWT': forge({ ...header, typ: 'at+jwt' }, payload, SECRET),
        'edited payload, old signature': `${h}.${b64({ ...payload, sub: 'someone-else' })}.${s}`,
        'flipped signature': `${h}.${p}.${flipped}`,
        'truncated signature': `${h}.${p}.${s.slice(0, -5)}`,
        'empty signature': `${h}.${p}.`,
        'two segments': `${h}.${p}`,
        'four segments': `${accessToken}.${s}`,
        'non-base64url characters': `${h}.${p}.${s.slice(0, -3)}*!$`,
        'signed with another key': forge(header, payload, 'a-different-secret-of-thirty-two-bytes')
      }
      for (const [name, token] of Object.entries(forged)) await assertRejected(t, app, bearer(token), name)
    })

    t.test('header key parameters (jku, jwk, x5u, kid paths) are rejected and nothing is fetched', async (t) => {
      let fetched = 0
      const keyServer = createServer((req, res) => { fetched++; res.end('{}') })
      await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve))
      t.teardown(() => keyServer.close())
      const url = `http://127.0.0.1:${(keyServer.address() as { port: number }).port}/keys`

      const app = await probeApp()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      const header = decodePart(accessToken, 0)
      const payload = decodePart(accessToken, 1)
      const variants: Record<string, Record<string, unknown>> = {
        jku: { jku: url },
        jwk: { jwk: { kty: 'oct', k: b64('attacker-key-attacker-key-attacker') } },
        x5u: { x5u: url },
        x5c: { x5c: ['MIIB'] },
        'kid path': { kid: '../../../../dev/null' },
        'kid sql': { kid: "x' union select 'secret" },
        crit: { crit: ['exp'] }
      }
      for (const [name, extra] of Object.entries(variants)) {
        // Signed with the right key, so only the header parameter can be the reason for the refusal.
        await assertRejected(t, app, bearer(forge({ ...header, ...extra }, payload, SECRET)), name)
      }
      t.equal(fetched, 0, 'no key was fetched')
    })

    t.test('type confusion: a refresh token as Bearer, an access token at /refresh', async (t) => {
      const app = await probeApp()
      t.teardown(() => app.close())
      const { accessToken, refreshToken } = await registerAndLogin(app)
      await assertRejected(t, app, bearer(refreshToken), 'refresh token as Bearer')
      const res = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: accessToken } })
      t.equal(res.statusCode, 401, 'access token at /refresh')
      t.equal(res.json().code, 'invalid_token')
      const typRefresh = forge(decodePart(accessToken, 0), { ...decodePart(accessToken, 1), typ: 'refresh' }, SECRET)
      await assertRejected(t, app, bearer(typRefresh), 'typ refresh')
    })

    t.test('claims: exp, nbf, iat, iss, aud, typ and sid are all checked', async (t) => {
      const app = await probeApp({ issuer: 'https://auth.example.com', audience: 'api' })
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      t.equal((await app.inject({ url: '/probe', headers: bearer(accessToken) })).json().authenticated, true)
      const header = decodePart(accessToken, 0)
      const good = decodePart(accessToken, 1)
      const now = Math.floor(Date.now() / 1000)
      const without = (name: string) => { const copy = { ...good }; delete copy[name]; return copy }
      const cases: Record<string, Record<string, unknown>> = {
        'missing exp': without('exp'),
        'string exp': { ...good, exp: String(now + 600) },
        'exp in the past': { ...good, exp: now - 3600 },
        'nbf in the future': { ...good, nbf: now + 3600 },
        'non-numeric nbf': { ...good, nbf: 'soon' },
        'iat in the future': { ...good, iat: now + 3600 },
        'missing iat': without('iat'),
        'wrong iss': { ...good, iss: 'https://evil.example.com' },
        'missing iss': without('iss'),
        'wrong aud': { ...good, aud: 'other' },
        'missing aud': without('aud'),
        'missing typ': without('typ'),
        'wrong typ': { ...good, typ: 'id' },
        'missing sid': without('sid'),
        'unknown sid': { ...good, sid: 'AAAAAAAAAAAAAAAAAAAAAA' },
        'numeric sid': { ...good, sid: 12 },
        'sub of another user': { ...good, sub: '00000000-0000-4000-8000-000000000000' },
        'missing sub': without('sub'),
        'missing jti': without('jti')
      }
      for (const [name, payload] of Object.entries(cases)) await assertRejected(t, app, bearer(forge(header, payload, SECRET)), name)
      const skewed = forge(header, { ...good, iat: now + 5, nbf: now + 5 }, SECRET)
      t.equal((await app.inject({ url: '/probe', headers: bearer(skewed) })).json().authenticated, true, 'a few seconds of clock skew is tolerated')
    })

    t.test('malformed Authorization headers leave the request anonymous and the hook never throws', async (t) => {
      const app = await probeApp()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      const cases: Record<string, Record<string, string | string[]>> = {
        'Bearer alone': { authorization: 'Bearer' },
        'two spaces': { authorization: `Bearer  ${accessToken}` },
        'a tab': { authorization: `Bearer\t${accessToken}` },
        'trailing space': { authorization: `Bearer ${accessToken} ` },
        'duplicated header': { authorization: [`Bearer ${accessToken}`, `Bearer ${accessToken}`] },
        '10 KB token': { authorization: `Bearer ${'a'.repeat(10 * 1024)}` },
        'non-ASCII bytes': { authorization: `Bearer ${accessToken.slice(0, 20)}é${accessToken.slice(21)}` },
        'token with a comma': { authorization: `Bearer ${accessToken}, Bearer ${accessToken}` }
      }
      for (const [name, headers] of Object.entries(cases)) await assertRejected(t, app, headers, name)
      const query = await app.inject({ url: `/probe?access_token=${accessToken}&token=${accessToken}` })
      t.same(query.json(), { authenticated: false, scopes: [] }, 'tokens in the query string are ignored')
    })

    t.test('a duplicated Authorization header over real HTTP is refused too', async (t) => {
      const app = await probeApp()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      await app.listen({ port: 0, host: '127.0.0.1' })
      const port = (app.server.address() as { port: number }).port
      // Written by hand: HTTP clients fold duplicated headers before they reach the wire.
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.end(`GET /probe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${accessToken}\r\n` +
            `authorization: Bearer ${accessToken}\r\nConnection: close\r\n\r\n`)
        })
        let data = ''
        socket.on('data', (chunk) => { data += chunk })
        socket.on('end', () => resolve(data))
        socket.on('error', reject)
      })
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
      t.same(JSON.parse(body), { authenticated: false, scopes: [] })
    })

    t.test('after logout, altered spellings of the revoked token (same signature bytes) are still rejected', async (t) => {
      const app = await probeApp()
      t.teardown(() => app.close())
      const { accessToken } = await registerAndLogin(app)
      await app.inject({ method: 'POST', url: '/logout', headers: bearer(accessToken) })
      // A 32-byte HMAC is 43 base64url characters; the last one carries 2 unused bits, so 4 spellings decode the same.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      const last = alphabet.indexOf(accessToken.at(-1)!)
      const base = last - (last % 4)
      const variants = [0, 1, 2, 3].map((i) => accessToken.slice(0, -1) + alphabet[base + i])
      t.equal(variants.length, 4)
      for (const variant of variants) {
        t.same(Buffer.from(variant.split('.')[2], 'base64url'), Buffer.from(accessToken.split('.')[2], 'base64url'), 'same signature bytes')
        await assertRejected(t, app, bearer(variant), `variant ${variant.at(-1)}`)
      }
    })
  })
}
