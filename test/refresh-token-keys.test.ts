import { createHash } from 'node:crypto'
import t from 'tap'
import { hashRefreshToken, isRefreshTokenShape, newRefreshToken } from '../src/service/tokens.ts'
import { buildApp, registerAndLogin, testDatabase } from './fixtures/app.ts'

// Refresh tokens lead with their issue time so the index stays append-mostly; the secret part stays secret.

t.test('a refresh token is 32 bytes of base64url: 6 bytes of issue time, 26 random', async (t) => {
  const before = Date.now()
  const tokens = Array.from({ length: 100 }, () => newRefreshToken())
  const after = Date.now()
  for (const token of tokens) {
    t.ok(isRefreshTokenShape(token), token)
    const issued = Buffer.from(token, 'base64url').readUIntBE(0, 6)
    t.ok(issued >= before && issued <= after, 'the first 6 bytes are the issue time')
  }
  t.equal(new Set(tokens.map((token) => token.slice(8))).size, 100, 'the random part differs even within one millisecond')
})

t.test('the stored key is the issue time and the SHA-256 of the whole token; it holds none of the secret', async (t) => {
  const token = newRefreshToken()
  const key = hashRefreshToken(token)
  const issued = Buffer.from(token, 'base64url').subarray(0, 6).toString('hex')
  t.equal(key, issued + createHash('sha256').update(token).digest('base64url'))
  t.notMatch(key, token.slice(8, 20), 'no run of the random part appears in the key')
  t.not(hashRefreshToken(`${token.slice(0, 42)}${token[42] === 'A' ? 'B' : 'A'}`), key, 'one character off: another key')
})

t.test('keys of tokens issued later sort after earlier ones, so new rows go to the end of the index', async (t) => {
  const keys: string[] = []
  for (let i = 0; i < 5; i++) {
    keys.push(hashRefreshToken(newRefreshToken()))
    await new Promise((resolve) => setTimeout(resolve, 3))
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
    t.notMatch(String(row.token_hash), refreshToken.slice(8), 'the secret part of the first token is not stored')
    t.notMatch(String(row.token_hash), refreshed.json().refresh_token.slice(8), 'nor of the second')
  }
})
