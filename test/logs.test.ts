import { sql } from 'drizzle-orm'
import Fastify from 'fastify'
import t from 'tap'
import fastifyDrizzleAuth from '../src/index.ts'
import { openSqlite } from '../src/db/sqlite/index.ts'
import { SECRET, bearer } from './fixtures/app.ts'

t.test('logs never hold a password, a token, a bcrypt hash or the secret', async (t) => {
  const lines: string[] = []
  const { db, close } = openSqlite(':memory:')
  t.teardown(close)
  const app = Fastify({ logger: { level: 'trace', stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(fastifyDrizzleAuth, { database: db, secret: SECRET, bcryptRounds: 4, routes: true })
  app.get('/boom', async () => { throw new Error('handler failure') })
  t.teardown(() => app.close())
  const password = 'Log-Test-Secret-Pass-77'
  const secrets: string[] = [password, SECRET]
  const post = (url: string, payload: object, headers = {}) => app.inject({ method: 'POST', url, payload, headers })

  await post('/register', { email: 'log@example.com', password })
  await post('/register', { email: 'log@example.com', password })
  await post('/register', { email: 'weak@example.com', password: 'short' })
  await post('/login', { email: 'log@example.com', password: 'Wrong-Password-12' })
  await post('/login', { email: 'nobody@example.com', password })
  const login = (await post('/login', { email: 'log@example.com', password })).json()
  secrets.push(login.access_token, login.refresh_token)
  await app.inject({ url: '/me', headers: bearer(login.access_token) })
  await app.inject({ url: '/me', headers: bearer(`${login.access_token}x`) })
  const refreshed = (await post('/refresh', { refresh_token: login.refresh_token })).json()
  secrets.push(refreshed.access_token, refreshed.refresh_token)
  await new Promise((resolve) => setTimeout(resolve, 20))
  await post('/refresh', { refresh_token: login.refresh_token }) // 409 within the grace window
  await post('/password', { current_password: password, new_password: 'Another-Log-Pass-88' }, bearer(refreshed.access_token))
  secrets.push('Another-Log-Pass-88')
  // A store fault: Drizzle's error quotes the query's parameters; none of them may reach the log.
  db.run(sql`create trigger fail before insert on auth_refresh_tokens begin select raise(abort, 'injected'); end`)
  await post('/login', { email: 'log@example.com', password: 'Another-Log-Pass-88' })
  db.run(sql`drop trigger fail`)
  const second = (await post('/login', { email: 'log@example.com', password: 'Another-Log-Pass-88' })).json()
  secrets.push(second.access_token, second.refresh_token)
  await post('/logout', {}, bearer(second.access_token))
  await post('/refresh', { refresh_token: second.refresh_token })
  for (let i = 0; i < 6; i++) await post('/login', { email: 'log@example.com', password: 'Wrong-Password-12' })
  await app.inject({ url: '/boom' })

  const hashes = db.$client.prepare('select password_hash from auth_users').pluck().all() as string[]
  const tokenHashes = db.$client.prepare('select token_hash from auth_refresh_tokens').pluck().all() as string[]
  const log = lines.join('')
  t.ok(lines.length > 20, `${lines.length} log lines captured`)
  t.match(log, /the store failed/, 'the fault was logged')
  t.match(log, /rate limit exceeded/)
  for (const value of [...secrets, ...hashes, ...tokenHashes]) {
    t.notOk(log.includes(value), `not in the log: ${value.slice(0, 12)}…`)
  }
  t.notMatch(log, /\$2[aby]\$\d\d\$/, 'no bcrypt hash shape at all')
  t.notMatch(log, /eyJ[\w-]+\.eyJ/, 'no JWT shape at all')
  t.notMatch(log, /"authorization"/i, 'no Authorization header')
})
