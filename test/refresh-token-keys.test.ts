import { createHash } from 'node:crypto'
import t from 'tap'
import { RefreshTokens } from '../src/service/refresh-tokens.ts'
import { hashRefreshToken } from '../src/service/tokens.ts'
import { SECRET, buildApp, registerAndLogin, testDatabase } from './fixtures/app.ts'

// Refresh tokens name their session and carry the plugin's mac; their stored key leads with the issue time so
// the index stays append-mostly, and holds none of the secret.
const tokens = new RefreshTokens(Buffer.from(SECRET), Date.now)

t.test('a refresh token is base64url(session id).nonce.mac: the nonce 6 bytes of issue time and 26 random', async (t) => {
  const before = Date.now()
  const issued = Array.from({ length: 100 }, () => tokens.issue('a-session.id'))
  const after = Date.now()
  for (const token of issued) {
    t.same(tokens.read(token), { format: 'named', sessionId: 'a-session.id' }, 'it names its session')
    const [sid, nonce, mac] = token.split('.')
    t.equal(sid, Buffer.from('a-session.id').toString('base64url'))
    t.equal(mac.length, 22)
    const time = Buffer.from(nonce, 'base64url').readUIntBE(0, 6)
    t.ok(time >= before && time <= after, 'the nonce leads with the issue time')
  }
  t.equal(new Set(issued.map((token) => token.split('.')[1].slice(8))).size, 100, 'the random part differs even within one millisecond')
})

t.test('a token whose session, nonce or mac was changed, or made under another secret, is no token', async (t) => {
  const token = tokens.issue('s1')
  const [sid, nonce, mac] = token.split('.')
  const flip = (part: string, at: number) => `${part.slice(0, at)}${part[at] === 'A' ? 'B' : 'A'}${part.slice(at + 1)}`
  const forged = [
    `${Buffer.from('s2').toString('base64url')}.${nonce}.${mac}`,
    `${sid}.${flip(nonce, 20)}.${mac}`,
    `${sid}.${nonce}.${flip(mac, 3)}`,
    new RefreshTokens(Buffer.from('another-secret-that-is-32-bytes-long!!'), Date.now).issue('s1'),
    `${sid}.${nonce}`, `${token}.x`, '', 'a'.repeat(44), `${sid}..${mac}`
  ]
  for (const candidate of forged) t.equal(tokens.read(candidate), undefined, JSON.stringify(candidate))
  t.same(tokens.read('A'.repeat(43)), { format: 'legacy' }, 'the earlier format (a bare nonce) is looked up by its key')
})

t.test('the stored key is the issue time and the SHA-256 of the whole token; it holds none of the secret', async (t) => {
  const token = tokens.issue('s1')
  const key = hashRefreshToken(token)
  const nonce = token.split('.')[1]
  const issued = Buffer.from(nonce, 'base64url').subarray(0, 6).toString('hex')
  t.equal(key, issued + createHash('sha256').update(token).digest('base64url'))
  t.notMatch(key, nonce.slice(8, 20), 'no run of the random part appears in the key')
  const legacy = 'AAAAAAAAAAAA'.padEnd(43, 'x')
  t.equal(hashRefreshToken(legacy), Buffer.from(legacy.slice(0, 8), 'base64url').toString('hex') + createHash('sha256').update(legacy).digest('base64url'), 'the earlier format: the same key as before')
})

t.test('keys of tokens issued later sort after earlier ones, so new rows go to the end of the index', async (t) => {
  const keys: string[] = []
  for (let i = 0; i < 5; i++) {
    keys.push(hashRefreshToken(tokens.issue(`session-${5 - i}`)))
    const start = Date.now()
    while (Date.now() === start) await new Promise(setImmediate)
  }
  t.same([...keys].sort(), keys)
})

t.test('the database holds keys only: no issued refresh token appears in any row', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const { refreshToken } = await registerAndLogin(app)
  const refreshed = await app.inject({ method: 'POST', url: '/refresh', payload: { refresh_token: refreshToken } })
  t.equal(refreshed.statusCode, 200)
  const rows = await testDatabase(app).query('select token_hash from auth_refresh_tokens order by generation')
  t.same(rows.map((row) => row.token_hash), [hashRefreshToken(refreshToken), hashRefreshToken(refreshed.json().refresh_token)])
  for (const row of rows) {
    t.notMatch(String(row.token_hash), refreshToken.split('.')[1].slice(8), 'the secret part of the first token is not stored')
    t.notMatch(String(row.token_hash), refreshed.json().refresh_token.split('.')[1].slice(8), 'nor of the second')
  }
})
