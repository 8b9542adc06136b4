import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { AuthService, type AuthEvents, type MailMessage, smtpMailer } from '../src/index.ts'
import { PASSWORD, SECRET, buildApp } from './fixtures/app.ts'
import { openSqlite } from '../src/db/sqlite/index.ts'
import { availableDialects, createTestDatabase, type Dialect } from './fixtures/databases.ts'
import { startSmtp } from './fixtures/smtp.ts'
import { tempDir } from './fixtures/temp.ts'

const LINKS = {
  verifyEmail: 'https://app.example/verify?token={token}',
  resetPassword: 'https://app.example/reset?token={token}',
  changeEmail: 'https://app.example/confirm-email?token={token}'
}

function recordingMailer () {
  const sent: MailMessage[] = []
  return { sent, send: async (message: MailMessage) => { sent.push(message) } }
}

function nextEvent<E extends keyof AuthEvents> (service: AuthService, name: E): Promise<AuthEvents[E]> {
  return new Promise((resolve) => {
    const off = service.on(name, (payload) => { off(); resolve(payload) })
  })
}

for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    /** A service on a database another service can open too: an SQLite file, or a PostgreSQL database. */
    async function standalone (t: Test) {
      const pg = await createTestDatabase(dialect as Dialect)
      const database = dialect === 'sqlite' ? join(tempDir(t, 'fda-outbox-'), 'auth.sqlite') : pg.url!
      const mailer = recordingMailer()
      const service = new AuthService({ database, secret: SECRET, bcryptRounds: 4, mailer, links: LINKS, sendVerificationOnRegister: false })
      await service.ready()
      const file = dialect === 'sqlite' ? openSqlite(database) : undefined
      t.teardown(async () => { await file?.close(); await service.close(); await pg.close() })
      const query = file === undefined
        ? pg.query
        : async (text: string) => {
          const statement = file.db.$client.prepare(text)
          return statement.reader ? statement.all() as Array<Record<string, unknown>> : (statement.run(), [])
        }
      return { service, mailer, database, db: { query } }
    }

    t.test('the outbox holds no usable token in clear, and a body moved to another row is never sent', async (t) => {
      const { service, mailer, db } = await standalone(t)
      await service.register('alice@example.com', PASSWORD)
      await service.requestPasswordReset('alice@example.com')
      await service.settled()
      const [row] = await db.query('select id, payload, attempts from auth_outbox')
      t.match(row.payload, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/)
      t.notMatch(row.payload, /app\.example|alice|reset|token/i, 'no link, address or word of the message in clear')
      // The same ciphertext under another id: authenticated against its own id, so it cannot be opened.
      await db.query(`insert into auth_outbox (id, payload, created_at, available_at, attempts) select '${randomUUID()}', payload, created_at, available_at, 0 from auth_outbox`)
      await db.query(`insert into auth_outbox (id, payload, created_at, available_at, attempts) select '${randomUUID()}', 'v1.cut', created_at, available_at, 0 from auth_outbox limit 1`)
      const failures: Array<AuthEvents['email_send_failed']> = []
      service.on('email_send_failed', (event) => { failures.push(event) })
      t.equal(await service.deliverMail(), 1)
      t.equal(failures.length, 2, 'the moved body and the cut one')
      for (const event of failures) {
        t.equal(event.type, null, 'nothing of the message is known')
        t.equal(event.attempts, 1, 'given up at once: it would never open')
      }
      t.equal(mailer.sent.length, 1)
      const token = new URL((mailer.sent[0] as { link: string }).link).searchParams.get('token')!
      t.notMatch(row.payload, token)
      const stored = await db.query('select token_hash from auth_action_tokens')
      t.not(stored[0].token_hash, token)
      t.same(await db.query('select id from auth_outbox'), [], 'delivered and abandoned messages are deleted')
    })

    t.test('a message queued by one service is sent by another with the same secret, and refused by one with another secret', async (t) => {
      const { service, database, mailer, db } = await standalone(t)
      await service.register('alice@example.com', PASSWORD)
      await service.requestPasswordReset('alice@example.com')
      await service.settled()
      await service.requestEmailVerification((await service.store.users.findByEmail('alice@example.com'))!.id)
      await service.settled()
      const other = recordingMailer()
      const stranger = new AuthService({ database, secret: 'another-secret-that-is-32-bytes-long!!', bcryptRounds: 4, mailer: other, links: LINKS, sendVerificationOnRegister: false })
      t.teardown(() => stranger.close())
      await stranger.ready()
      const failed = nextEvent(stranger, 'email_send_failed')
      // One message is taken by the stranger (and given up: it cannot open it), the other by a twin of the first.
      const twinMailer = recordingMailer()
      const twin = new AuthService({ database, secret: SECRET, bcryptRounds: 4, mailer: twinMailer, links: LINKS, sendVerificationOnRegister: false })
      t.teardown(() => twin.close())
      await twin.ready()
      await db.query('update auth_outbox set available_at = created_at')
      const [first] = await db.query('select id from auth_outbox order by created_at limit 1')
      await db.query(`update auth_outbox set claimed_until = ${dialect === 'sqlite' ? '32503680000000' : "'3000-01-01'"} where id <> '${String(first.id)}'`)
      t.equal(await stranger.deliverMail(), 0)
      t.equal((await failed).attempts, 1)
      t.equal(other.sent.length, 0, 'a different secret opens nothing')
      await db.query('update auth_outbox set claimed_until = null')
      t.equal(await twin.deliverMail(), 1, 'the same secret in another process sends what this one queued')
      t.same(twinMailer.sent.map((m) => m.type), ['verify_email'])
      t.equal(mailer.sent.length, 0)
    })

    t.test('an SMTP server that refuses, then recovers, gets the message on retry (once)', async (t) => {
      const smtp = await startSmtp(t)
      smtp.refuseNext(2)
      const app = await buildApp({ mailer: smtpMailer(smtp.url), links: LINKS, sendVerificationOnRegister: false, outbox: { retryDelayMs: 1, pollIntervalMs: 5 } }, {}, dialect)
      t.teardown(() => app.close())
      await app.ready()
      await app.authService.register('alice@example.com', PASSWORD)
      await app.inject({ method: 'POST', url: '/password/forgot', payload: { email: 'alice@example.com' } })
      const [mail] = await smtp.waitFor(1)
      t.equal(smtp.refused, 2, 'two refusals before it went through')
      t.same(mail.to, ['alice@example.com'])
      await app.authService.deliverMail()
      t.equal(smtp.received.length, 1, 'sent once')
      t.equal((await app.inject({ method: 'POST', url: '/password/reset', payload: { token: mail.token, new_password: 'Another-Horse-7-Staple' } })).statusCode, 200)
    })

    t.test('after maxAttempts the message is given up with email_send_failed (no address guessing in the log of the request)', async (t) => {
      const smtp = await startSmtp(t)
      smtp.refuseNext(1000)
      const app = await buildApp({ mailer: smtpMailer(smtp.url), links: LINKS, sendVerificationOnRegister: false, outbox: { retryDelayMs: 1, pollIntervalMs: 5, maxAttempts: 3 } }, {}, dialect)
      t.teardown(() => app.close())
      await app.ready()
      await app.authService.register('alice@example.com', PASSWORD)
      const failed = nextEvent(app.authService, 'email_send_failed')
      const res = await app.inject({ method: 'POST', url: '/password/forgot', payload: { email: 'alice@example.com' } })
      t.equal(res.statusCode, 202)
      const event = await failed
      t.equal(event.type, 'reset_password')
      t.equal(event.to, 'alice@example.com')
      t.equal(event.attempts, 3)
      t.match(event.error, /Try again later/)
      t.equal(smtp.refused, 3)
      t.same(await import('./fixtures/app.ts').then(({ testDatabase }) => testDatabase(app).query('select id from auth_outbox')), [])
    })

    t.test('an SMTP server whose refusal quotes the recipient: the log, the event and the row keep the code, not the address', async (t) => {
      const smtp = await startSmtp(t)
      smtp.refuseRecipients()
      const lines: string[] = []
      const app = await buildApp({ mailer: smtpMailer(smtp.url), links: LINKS, sendVerificationOnRegister: false, outbox: { retryDelayMs: 1, pollIntervalMs: 5, maxAttempts: 2 } }, {
        logger: { level: 'trace', stream: { write: (line: string) => { lines.push(line) } } }
      }, dialect)
      t.teardown(() => app.close())
      await app.ready()
      await app.authService.register('victim.name+tag@example.com', PASSWORD)
      const failed = nextEvent(app.authService, 'email_send_failed')
      await app.inject({ method: 'POST', url: '/password/forgot', payload: { email: 'victim.name+tag@example.com' } })
      const event = await failed
      const logged = lines.map((line) => JSON.parse(line)).filter((line) => /sending an email failed|could not be sent/.test(line.msg))
      t.equal(logged.length, 2, 'one retry, then given up')
      for (const line of logged) {
        t.equal(line.responseCode, 550, 'the SMTP reply code')
        t.match(line.error, /Recipient address rejected: mailbox \[address\] unknown/, 'the text without the address')
      }
      t.notMatch(lines.join('\n'), /victim/, 'no address anywhere in the log')
      t.notMatch(event.error, /victim/, 'nor in the event')
    })

    t.test('a mailer that throws something other than an Error: given up after maxAttempts with its text', async (t) => {
      const db = await createTestDatabase(dialect as Dialect)
      let calls = 0
      // eslint-disable-next-line no-throw-literal
      const mailer = { send: () => { calls++; throw 'mail relay offline' } }
      const service = new AuthService({ database: db.database, secret: SECRET, bcryptRounds: 4, mailer, links: LINKS, sendVerificationOnRegister: false, outbox: { maxAttempts: 2, retryDelayMs: 1 } })
      t.teardown(async () => { await service.close(); await db.close() })
      await service.ready()
      await service.register('alice@example.com', PASSWORD)
      await service.requestPasswordReset('alice@example.com')
      const failed = nextEvent(service, 'email_send_failed')
      t.equal(await service.deliverMail(), 0)
      const [retry] = await db.query('select attempts, last_error from auth_outbox')
      t.same([Number(retry.attempts), retry.last_error], [1, 'mail relay offline'], 'the error is kept for the retry')
      await db.query('update auth_outbox set available_at = created_at')
      t.equal(await service.deliverMail(), 0)
      t.match(await failed, { type: 'reset_password', attempts: 2, error: 'mail relay offline' })
      t.equal(calls, 2)
    })

    t.test('two instances on one database deliver each of 20 messages exactly once', async (t) => {
      const smtp = await startSmtp(t)
      const db = await createTestDatabase(dialect as Dialect)
      t.teardown(() => db.close())
      const database = dialect === 'sqlite' ? join(tempDir(t, 'fda-outbox-'), 'shared.sqlite') : db.url!
      const make = () => new AuthService({ database, secret: SECRET, bcryptRounds: 4, mailer: smtpMailer(smtp.url), links: LINKS, sendVerificationOnRegister: false, outbox: { pollIntervalMs: 5 } })
      const a = make()
      const b = make()
      t.teardown(async () => { await a.close(); await b.close() })
      await a.ready()
      await b.ready()
      for (let i = 0; i < 20; i++) await a.register(`user${i}@example.com`, PASSWORD)
      for (let i = 0; i < 20; i++) await (i % 2 === 0 ? a : b).requestPasswordReset(`user${i}@example.com`)
      a.startMailDelivery()
      a.startMailDelivery()
      b.startMailDelivery()
      await smtp.waitFor(20)
      await a.stopMailDelivery()
      await b.stopMailDelivery()
      t.equal(await a.deliverMail() + await b.deliverMail(), 0, 'nothing left')
      t.equal(smtp.received.length, 20)
      t.equal(new Set(smtp.received.map((m) => m.to[0])).size, 20, 'each recipient once')
    })
  })
}
