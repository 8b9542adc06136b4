import t from 'tap'
import { TokenExpiredError, TokenInvalidError } from '../src/index.ts'
import { AccessTokenCodec, type JwtAlgorithm } from '../src/service/tokens.ts'
import { SECRET } from './fixtures/app.ts'
import { b64, decodePart, forge, signInput } from './fixtures/jwt.ts'

const HMAC = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const

function codecFor (algorithm: JwtAlgorithm, extra: { issuer?: string, audience?: string } = {}) {
  return new AccessTokenCodec({
    secret: Buffer.from(SECRET), algorithm, issuer: extra.issuer, audience: extra.audience, accessTokenTtl: 600, clockSkewSeconds: 30, clock: Date.now
  })
}

type Outcome = 'accepted' | 'expired' | 'invalid'
function outcome (verify: () => unknown): Outcome {
  try {
    verify()
    return 'accepted'
  } catch (err) {
    if (err instanceof TokenExpiredError) return 'expired'
    if (err instanceof TokenInvalidError) return 'invalid'
    throw err
  }
}

/** The same payload signed under the codec's own header (pinned path) and under the same header with its keys reordered (fast-jwt). */
function bothWays (algorithm: JwtAlgorithm, payload: unknown) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload)
  const sign = (header: string) => signInput(`${b64(header)}.${b64(body)}`, SECRET, HMAC[algorithm])
  return { pinned: sign(`{"alg":"${algorithm}","typ":"JWT"}`), general: sign(`{"typ":"JWT","alg":"${algorithm}"}`) }
}

for (const algorithm of ['HS256', 'HS384', 'HS512'] as const) {
  t.test(`${algorithm}: the pinned check decides every claim as fast-jwt does`, async (t) => {
    const codec = codecFor(algorithm, { issuer: 'https://auth.example.com', audience: 'api' })
    const own = codec.sign('user-1', 'session-1')
    t.equal(own.split('.')[0], b64(`{"alg":"${algorithm}","typ":"JWT"}`), 'the signer writes the header the pinned path expects')
    const good = decodePart(own, 1)
    const now = Math.floor(Date.now() / 1000)
    const without = (name: string) => { const copy = { ...good }; delete copy[name]; return copy }
    const cases: Record<string, [unknown, Outcome, Outcome?]> = {
      'the codec\'s own claims': [good, 'accepted'],
      'exp past by more than the tolerance': [{ ...good, exp: now - 60 }, 'expired', 'accepted'],
      'exp past within the tolerance': [{ ...good, exp: now - 10 }, 'accepted'],
      'string exp': [{ ...good, exp: String(now + 600) }, 'invalid'],
      'missing exp': [without('exp'), 'invalid'],
      'nbf ahead by more than the tolerance': [{ ...good, nbf: now + 60 }, 'invalid'],
      'nbf ahead within the tolerance': [{ ...good, nbf: now + 10 }, 'accepted'],
      'string nbf': [{ ...good, nbf: 'soon' }, 'invalid'],
      'array nbf': [{ ...good, nbf: [now] }, 'invalid'],
      'missing iat': [without('iat'), 'invalid'],
      'wrong iss': [{ ...good, iss: 'https://evil.example.com' }, 'invalid'],
      'iss as an array': [{ ...good, iss: ['https://auth.example.com'] }, 'invalid'],
      'missing iss': [without('iss'), 'invalid'],
      'wrong aud': [{ ...good, aud: 'other' }, 'invalid'],
      'aud array naming the audience': [{ ...good, aud: ['other', 'api'] }, 'accepted'],
      'aud array without it': [{ ...good, aud: ['other'] }, 'invalid'],
      'empty aud array': [{ ...good, aud: [] }, 'invalid'],
      'aud array with a number': [{ ...good, aud: ['api', 7] }, 'invalid'],
      'missing aud': [without('aud'), 'invalid'],
      'missing sid': [without('sid'), 'invalid'],
      'wrong typ': [{ ...good, typ: 'refresh' }, 'invalid'],
      'expired and wrong iss': [{ ...good, exp: now - 60, iss: 'x' }, 'expired', 'invalid'],
      'payload an array': [[good], 'invalid'],
      'payload null': ['null', 'invalid'],
      'payload a number': ['42', 'invalid'],
      'payload not JSON': ['{"sub":', 'invalid']
    }
    for (const [name, [payload, expected, ignoringExpiry = expected]] of Object.entries(cases)) {
      const { pinned, general } = bothWays(algorithm, payload)
      t.equal(outcome(() => codec.verify(pinned)), expected, `${name}: pinned path`)
      t.equal(outcome(() => codec.verify(general)), expected, `${name}: fast-jwt path`)
      t.equal(outcome(() => codec.verify(pinned, { ignoreExpiration: true })), ignoringExpiry, `${name}, expiry ignored: pinned path`)
      t.equal(outcome(() => codec.verify(general, { ignoreExpiration: true })), ignoringExpiry, `${name}, expiry ignored: fast-jwt path`)
    }
  })
}

t.test('the pinned path checks the signature of the exact token it was given', async (t) => {
  const codec = codecFor('HS256')
  const token = codec.sign('user-1', 'session-1')
  const [h, p, s] = token.split('.')
  t.equal(codec.verify(token).sid, 'session-1')
  // A 32-byte HMAC is 43 base64url characters whose last carries 2 unused bits: the other spellings decode to
  // the same bytes (fast-jwt takes them), yet only the signer's own spelling is the token.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(s.at(-1)!)
  for (const other of [0, 1, 2, 3].map((i) => alphabet[last - (last % 4) + i]).filter((c) => c !== s.at(-1))) {
    const variant = `${h}.${p}.${s.slice(0, -1)}${other}`
    t.same(Buffer.from(variant.split('.')[2], 'base64url'), Buffer.from(s, 'base64url'), 'same signature bytes')
    t.throws(() => codec.verify(variant), TokenInvalidError, `spelling ${other} refused`)
  }
  const forged: Record<string, string> = {
    'payload edited, signature kept': `${h}.${b64({ ...decodePart(token, 1), sub: 'user-2' })}.${s}`,
    'signed with another key': forge(decodePart(token, 0), decodePart(token, 1), 'a-different-secret-of-thirty-two-bytes'),
    'signature cut short': `${h}.${p}.${s.slice(0, -1)}`,
    'signature one character longer': `${h}.${p}.${s}A`,
    'empty signature': `${h}.${p}.`,
    'no payload segment': `${h}.${s}`,
    'empty payload segment': `${h}..${s}`,
    'padding in the payload': `${h}.${p}=.${s}`,
    'a space in the signature': `${h}.${p}.${s.slice(0, 20)} ${s.slice(21)}`,
    'four segments': `${token}.${s}`,
    'header alone': `${h}.`
  }
  for (const [name, value] of Object.entries(forged)) t.throws(() => codec.verify(value), TokenInvalidError, name)
})

t.test('a token with any other header still goes through fast-jwt, which keeps every refusal', async (t) => {
  const codec = codecFor('HS256')
  const payload = decodePart(codec.sign('user-1', 'session-1'), 1)
  t.equal(codec.verify(forge({ typ: 'JWT', alg: 'HS256' }, payload, SECRET)).sid, 'session-1', 'keys reordered: accepted by fast-jwt')
  t.equal(codec.verify(forge({ alg: 'HS256' }, payload, SECRET)).sid, 'session-1', 'no typ: accepted by fast-jwt')
  t.throws(() => codec.verify(forge({ alg: 'HS384', typ: 'JWT' }, payload, SECRET, 'sha384')), TokenInvalidError, 'another algorithm')
  t.throws(() => codec.verify(forge({ alg: 'HS256', typ: 'JWT', kid: 'k' }, payload, SECRET)), TokenInvalidError, 'a key header')
  t.throws(() => codec.verify(forge({ alg: 'none', typ: 'JWT' }, payload, SECRET)), TokenInvalidError, 'alg none')
})

t.test('the pinned path accepts what the signer signs, for every algorithm, key length and token length', async (t) => {
  let checked = 0
  for (const algorithm of ['HS256', 'HS384', 'HS512'] as const) {
    // Around both block sizes (64 and 128 bytes): keys longer than a block are hashed first.
    for (const keyLength of [32, 63, 64, 65, 127, 128, 129, 300]) {
      const secret = Buffer.alloc(keyLength, keyLength % 251)
      secret[0] = 7
      const codec = new AccessTokenCodec({ secret, algorithm, issuer: undefined, audience: undefined, accessTokenTtl: 600, clockSkewSeconds: 0, clock: Date.now })
      const other = new AccessTokenCodec({ secret: Buffer.concat([secret, Buffer.from([1])]), algorithm, issuer: undefined, audience: undefined, accessTokenTtl: 600, clockSkewSeconds: 0, clock: Date.now })
      for (const padding of [0, 1, 37, 64, 200, 1000]) {
        const token = codec.sign('user-1', 'session-1', { note: 'n'.repeat(padding) })
        t.equal(codec.verify(token).note, 'n'.repeat(padding), `${algorithm}, ${keyLength}-byte key, ${token.length} characters`)
        t.throws(() => other.verify(token), TokenInvalidError, 'the same token under a key one byte longer is refused')
        checked++
      }
    }
  }
  t.equal(checked, 144)
})
