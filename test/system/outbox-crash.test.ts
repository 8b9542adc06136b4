import { join } from 'node:path'
import t from 'tap'
import { openSqlite } from '../../src/db/sqlite/index.ts'
import { availableDialects, createTestDatabase, type Dialect } from '../fixtures/databases.ts'
import { startServer } from '../fixtures/server-process.ts'
import { startSmtp } from '../fixtures/smtp.ts'
import { tempDir } from '../fixtures/temp.ts'

const PASSWORD = 'Crash-Proof-Pass-42'

// `npm start` killed with SIGKILL while it is sending a reset link: the message was committed with its token,
// so the next process sends it once the dead one's claim runs out, and the link in it works.
for (const dialect of await availableDialects()) {
  t.test(`${dialect}: a message survives its sender being killed between commit and send`, async (t) => {
    const smtp = await startSmtp(t)
    const pg = await createTestDatabase(dialect as Dialect)
    t.teardown(() => pg.close())
    const path = join(tempDir(t, 'fda-crash-'), 'auth.sqlite')
    const env = {
      ...(dialect === 'sqlite' ? { DATABASE_PATH: path } : { DATABASE_URL: pg.url! }),
      AUTH_SECRET: 'crash-test-secret-that-is-32-bytes!!',
      PORT: '0',
      LOG_LEVEL: 'info',
      SMTP_URL: smtp.url,
      APP_URL: 'https://app.example',
      OUTBOX_LEASE_MS: '1000'
    }
    const call = async (url: string, path: string, body: object) => {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: res.status, body: await res.json() as Record<string, string> }
    }
    const query = async (text: string) => {
      if (dialect !== 'sqlite') return pg.query(text)
      const file = openSqlite(path)
      try { return file.db.$client.prepare(text).all() as Array<Record<string, unknown>> } finally { await file.close() }
    }

    const first = await startServer(env)
    t.teardown(() => first.stop())
    t.equal((await call(first.url, '/register', { email: 'alice@example.com', password: PASSWORD })).status, 201)
    const [welcome] = await smtp.waitFor(1)
    t.equal(welcome.subject, 'Confirm your email address', 'the registration\'s verification link went out first')
    const sending = smtp.holdNextMail()
    t.equal((await call(first.url, '/password/forgot', { email: 'alice@example.com' })).status, 202)
    await sending
    await first.kill()
    const [row] = await query('select attempts, claimed_until from auth_outbox')
    t.equal(Number(row.attempts), 1, 'the dead process had claimed it and was sending')
    t.ok(row.claimed_until !== null)
    t.equal(smtp.received.length, 1, 'nothing more was delivered before the kill')

    const second = await startServer(env)
    t.teardown(() => second.stop())
    const [, mail] = await smtp.waitFor(2)
    t.same(mail.to, ['alice@example.com'])
    t.match(mail.link, /^https:\/\/app\.example\/reset#token=/)
    const reset = await call(second.url, '/password/reset', { token: mail.token, new_password: 'Another-Horse-7-Staple' })
    t.equal(reset.status, 200, 'the link of the recovered message works')
    t.notMatch(first.output() + second.output(), mail.token!, 'the token never reached a log')
  })
}
