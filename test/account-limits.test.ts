import Fastify from 'fastify'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import fastifyDrizzleAuth, { AuthService, type MailMessage } from '../src/index.ts'
import { sqliteStore } from '../src/db/sqlite/index.ts'
import { pgStore } from '../src/db/pg/index.ts'
import { PASSWORD, SECRET, bearer } from './fixtures/app.ts'
import { CountingStore } from './fixtures/counting-store.ts'
import { tempDir } from './fixtures/temp.ts'
import { availableDialects, createTestDatabase, type Dialect } from './fixtures/databases.ts'

const LINKS = {
  verifyEmail: 'https://app.example/verify?token={token}',
  resetPassword: 'https://app.example/reset?token={token}',
  changeEmail: 'https://app.example/confirm-email?token={token}'
}

/** A mailer that records what it is asked to send; `hold` makes every send wait until `release()` (a mail server that hangs). */
function recordingMailer (hold = false) {
  const sent: MailMessage[] = []
  const held: Array<() => void> = []
  const waiting: Array<{ count: number, resolve: () => void }> = []
  return {
    sent,
    release: () => { for (const done of held.splice(0)) done() },
    /** Resolves once `count` messages in all were handed to the mailer. */
    until: (count: number) => new Promise<void>((resolve) => { if (sent.length >= count) resolve(); else waiting.push({ count, resolve }) }),
    send: (message: MailMessage) => {
      sent.push(message)
      for (const waiter of waiting.filter((w) => sent.length >= w.count)) { waiting.splice(waiting.indexOf(waiter), 1); waiter.resolve() }
      return hold ? new Promise<void>((resolve) => { held.push(resolve) }) : Promise.resolve()
    }
  }
}

for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    async function countingService (t: Test, options: Record<string, unknown> = {}) {
      const db = await createTestDatabase(dialect as Dialect)
      const inner = dialect === 'sqlite' ? sqliteStore(':memory:') : pgStore(db.url!)
      const store = new CountingStore(inner)
      const mailer = recordingMailer()
      const service = new AuthService({ store, secret: SECRET, bcryptRounds: 4, mailer, links: LINKS, sendVerificationOnRegister: false, ...options })
      t.teardown(async () => { await service.close(); await db.close() })
      await service.ready()
      return { service, store, mailer }
    }

    t.test('forgot password: the same store calls and no mailer call on the request path, known or unknown, active or not', async (t) => {
      const { service, store, mailer } = await countingService(t)
      await service.register('known@example.com', PASSWORD)
      const inactive = await service.register('inactive@example.com', PASSWORD)
      await service.deactivate(inactive.id)
      const before: Record<string, string[]> = {}
      const after: Record<string, string[]> = {}
      for (const email of ['known@example.com', 'unknown@example.com', 'inactive@example.com']) {
        const later: Array<() => Promise<void>> = []
        store.sequence.length = 0
        await service.requestPasswordReset(email, { ip: '203.0.113.9', after: (work) => { later.push(work) } })
        before[email] = [...store.sequence]
        store.sequence.length = 0
        for (const work of later) await work()
        after[email] = [...store.sequence]
      }
      t.same(before['known@example.com'], ['limits.hit'], 'before the answer: the client limit only')
      t.same(before['unknown@example.com'], before['known@example.com'], 'an unknown address: the same')
      t.same(before['inactive@example.com'], before['known@example.com'], 'an inactive account: the same')
      t.same(after['known@example.com'], ['users.findByEmail', 'limits.hit', 'actions.issueActionToken'], 'after it: the lookup, the recipient limit, the token')
      t.same(after['unknown@example.com'], after['known@example.com'], 'an unknown address does the same work after the answer too')
      t.same(after['inactive@example.com'], after['known@example.com'])
      t.equal(mailer.sent.length, 0, 'nothing is sent on the request path')
      t.equal(await service.deliverMail(), 1, 'one message was queued, for the known address only')
      t.same(mailer.sent.map((m) => [m.type, m.to]), [['reset_password', 'known@example.com']])
    })

    t.test('verification resend: the same store calls before the answer for unverified, unknown, verified and inactive addresses', async (t) => {
      const { service, store, mailer } = await countingService(t)
      await service.register('waiting@example.com', PASSWORD)
      const inactive = await service.register('inactive@example.com', PASSWORD)
      await service.deactivate(inactive.id)
      await service.register('verified@example.com', PASSWORD)
      await service.resendEmailVerification('verified@example.com')
      await service.deliverMail()
      await service.verifyEmail(new URL((mailer.sent.at(-1) as { link: string }).link).searchParams.get('token')!)
      const sent = mailer.sent.length
      const before: Record<string, string[]> = {}
      const after: Record<string, string[]> = {}
      const emails = ['waiting@example.com', 'unknown@example.com', 'verified@example.com', 'inactive@example.com']
      for (const email of emails) {
        const later: Array<() => Promise<void>> = []
        store.sequence.length = 0
        await service.resendEmailVerification(email, { ip: '203.0.113.9', after: (work) => { later.push(work) } })
        before[email] = [...store.sequence]
        store.sequence.length = 0
        for (const work of later) await work()
        after[email] = [...store.sequence]
      }
      for (const email of emails) {
        t.same(before[email], ['limits.hit'], `${email}: the client limit only before the answer`)
        t.same(after[email], ['users.findByEmail', 'limits.hit', 'actions.issueActionToken'], `${email}: the same work after it`)
      }
      t.equal(await service.deliverMail(), 1)
      t.same(mailer.sent.slice(sent).map((m) => [m.type, m.to]), [['verify_email', 'waiting@example.com']])
    })

    t.test('HTTP forgot password and verification request: the same calls before the reply, no outbox claim or send before onResponse', async (t) => {
      const db = await createTestDatabase(dialect as Dialect)
      const inner = dialect === 'sqlite' ? sqliteStore(':memory:') : pgStore(db.url!)
      const store = new CountingStore(inner)
      const mailer = recordingMailer()
      const app = Fastify()
      // The mailer is a call in the same sequence: it must come after the response.
      const send = mailer.send
      mailer.send = (message: MailMessage) => { store.sequence.push('mailer.send'); return send(message) }
      await app.register(fastifyDrizzleAuth, { store, secret: SECRET, bcryptRounds: 4, routes: true, mailer, links: LINKS, sendVerificationOnRegister: false, outbox: { pollIntervalMs: 60_000 } })
      app.addHook('onSend', async () => { store.sequence.push('reply') })
      app.addHook('onResponse', async () => { store.sequence.push('response') })
      t.teardown(async () => { await app.close(); await db.close() })
      await app.ready()
      // The sender's first look at the outbox, when it starts: not a request's doing.
      while (!store.sequence.includes('actions.claimMessages')) await new Promise(setImmediate)
      await app.authService.register('known@example.com', PASSWORD)
      const sequences: Record<string, string[]> = {}
      for (const email of ['known@example.com', 'unknown@example.com']) {
        store.sequence.length = 0
        const sent = mailer.sent.length
        const res = await app.inject({ method: 'POST', url: '/password/forgot', payload: { email } })
        t.equal(res.statusCode, 202)
        if (email === 'known@example.com') {
          await mailer.until(sent + 1)
          while (!store.sequence.includes('actions.deleteMessage')) await new Promise(setImmediate)
        } else {
          await app.authService.deliverMail()
        }
        sequences[email] = [...store.sequence]
      }
      const beforeReply = (sequence: string[]) => sequence.slice(0, sequence.indexOf('reply'))
      t.same(beforeReply(sequences['known@example.com']), ['limits.hit'], 'known: the client limit, then the reply')
      t.same(beforeReply(sequences['unknown@example.com']), beforeReply(sequences['known@example.com']), 'unknown: the same calls in the same order')
      const known = sequences['known@example.com']
      const response = known.indexOf('response')
      for (const late of ['users.findByEmail', 'actions.issueActionToken', 'actions.claimMessages', 'mailer.send']) {
        t.ok(known.indexOf(late) > response, `${late} only after onResponse (${known.join(' ')})`)
      }

      const { accessToken } = await app.authService.login('known@example.com', PASSWORD)
      store.sequence.length = 0
      const sent = mailer.sent.length
      const verify = await app.inject({ method: 'POST', url: '/verify-email/request', headers: bearer(accessToken) })
      t.equal(verify.statusCode, 202)
      await mailer.until(sent + 1)
      const sequence = store.sequence
      for (const late of ['actions.issueActionToken', 'actions.claimMessages', 'mailer.send']) {
        t.ok(sequence.indexOf(late) > sequence.indexOf('response'), `verification: ${late} only after onResponse`)
      }
    })

    t.test('one message per recipient and purpose per period: the second request is answered alike and sends nothing', async (t) => {
      const { service, store, mailer } = await countingService(t)
      await service.register('known@example.com', PASSWORD)
      await service.requestPasswordReset('known@example.com')
      await service.settled()
      store.calls.clear()
      await service.requestPasswordReset('known@example.com')
      await service.settled()
      t.same(Object.fromEntries(store.calls), { 'users.findByEmail': 1, 'limits.hit': 1, 'actions.issueActionToken': 1 }, 'the same statements')
      t.equal(await service.deliverMail(), 1)
      t.equal(mailer.sent.length, 1)
    })

    t.test('HTTP: 202 and the same body for every address, never waiting for a mail server that hangs', async (t) => {
      const db = await createTestDatabase(dialect as Dialect)
      const mailer = recordingMailer(true)
      const app = Fastify()
      await app.register(fastifyDrizzleAuth, { database: db.database, secret: SECRET, bcryptRounds: 4, routes: true, mailer, links: LINKS, sendVerificationOnRegister: false })
      t.teardown(async () => { mailer.release(); await app.close(); await db.close() })
      await app.ready()
      await app.authService.register('known@example.com', PASSWORD)
      const answers = []
      for (const email of ['known@example.com', 'unknown@example.com']) {
        const res = await app.inject({ method: 'POST', url: '/password/forgot', payload: { email } })
        answers.push([res.statusCode, res.body, res.headers['content-length']])
      }
      t.same(answers[0], answers[1])
      t.equal(answers[0][0], 202)
      // The reset was queued after its answer: wait for that work, not for a time.
      await app.authService.settled()
      const rows = await db.query('select count(*) as n from auth_outbox')
      t.equal(Number(rows[0].n), 1, 'the message waits in the outbox while the server hangs')
      const invalid = await app.inject({ method: 'POST', url: '/password/forgot', payload: { email: 'not an address' } })
      t.equal(invalid.statusCode, 422)
      t.equal(invalid.json().code, 'invalid_email')
    })

    t.test('closing does not hang on a mail server that hangs: the send is left to its lease, then sent by the next run', async (t) => {
      const db = await createTestDatabase(dialect as Dialect)
      t.teardown(() => db.close())
      const database = dialect === 'sqlite' ? join(tempDir(t, 'fda-hang-'), 'auth.sqlite') : db.url!
      const hung = recordingMailer(true)
      const first = new AuthService({ database, secret: SECRET, bcryptRounds: 4, mailer: hung, links: LINKS, sendVerificationOnRegister: false, outbox: { closeTimeoutMs: 1, leaseMs: 1 } })
      await first.ready()
      await first.register('known@example.com', PASSWORD)
      await first.requestPasswordReset('known@example.com')
      await first.settled()
      first.startMailDelivery()
      await first.stopMailDelivery()
      t.equal(hung.sent.length, 1, 'the send had started')
      await first.close()
      const next = recordingMailer()
      const second = new AuthService({ database, secret: SECRET, bcryptRounds: 4, mailer: next, links: LINKS, sendVerificationOnRegister: false })
      t.teardown(() => second.close())
      await second.ready()
      t.equal(await second.deliverMail(), 1, 'the abandoned message is sent once its lease is over')
      t.same(next.sent.map((m) => m.to), ['known@example.com'])
      hung.release()
    })

    t.test('HTTP limits: 5 mail-sending requests per IP per window, 30 token submissions, then 429 with Retry-After', async (t) => {
      const db = await createTestDatabase(dialect as Dialect)
      const mailer = recordingMailer()
      const app = Fastify({ trustProxy: true })
      await app.register(fastifyDrizzleAuth, { database: db.database, secret: SECRET, bcryptRounds: 4, routes: true, mailer, links: LINKS, sendVerificationOnRegister: false })
      t.teardown(async () => { await app.close(); await db.close() })
      const from = (ip: string) => ({ 'x-forwarded-for': ip })
      for (let i = 0; i < 5; i++) {
        const res = await app.inject({ method: 'POST', url: '/password/forgot', payload: { email: `user${i}@example.com` }, headers: from('198.51.100.1') })
        t.equal(res.statusCode, 202)
      }
      const limited = await app.inject({ method: 'POST', url: '/password/forgot', payload: { email: 'user9@example.com' }, headers: from('198.51.100.1') })
      t.equal(limited.statusCode, 429)
      t.equal(limited.json().code, 'rate_limited')
      t.ok(Number(limited.headers['retry-after']) > 800 && Number(limited.headers['retry-after']) <= 900)
      const elsewhere = await app.inject({ method: 'POST', url: '/password/forgot', payload: { email: 'user9@example.com' }, headers: from('198.51.100.2') })
      t.equal(elsewhere.statusCode, 202, 'another address is not limited')

      for (let i = 0; i < 30; i++) {
        const res = await app.inject({ method: 'POST', url: i % 2 === 0 ? '/verify-email' : '/email/confirm', payload: { token: `guess-${i}` }, headers: from('198.51.100.3') })
        t.equal(res.statusCode, 400)
      }
      const guessing = await app.inject({ method: 'POST', url: '/password/reset', payload: { token: 'x', new_password: 'Another-Horse-7-Staple' }, headers: from('198.51.100.3') })
      t.equal(guessing.statusCode, 429)
      t.ok(Number(guessing.headers['retry-after']) > 0)
    })

    t.test('email change: the current password is counted like a login attempt (429 past the per-email limit)', async (t) => {
      const db = await createTestDatabase(dialect as Dialect)
      const app = Fastify()
      await app.register(fastifyDrizzleAuth, {
        database: db.database, secret: SECRET, bcryptRounds: 4, routes: true, mailer: recordingMailer(), links: LINKS, sendVerificationOnRegister: false, mailRateLimit: { maxRequestsPerIp: 100 }
      })
      t.teardown(async () => { await app.close(); await db.close() })
      await app.authService.register('alice@example.com', PASSWORD)
      const { accessToken } = await app.authService.login('alice@example.com', PASSWORD)
      const statuses = []
      for (let i = 0; i < 6; i++) {
        const res = await app.inject({ method: 'POST', url: '/email/change', payload: { current_password: `Wrong-${i}-password`, new_email: 'new@example.com' }, headers: bearer(accessToken) })
        statuses.push(res.statusCode)
      }
      t.same(statuses, [403, 403, 403, 403, 403, 429])
    })

    t.test('one mailbox cannot be flooded through sub-addresses, and an account sends at most 3 email changes an hour', async (t) => {
      async function app (mailRateLimit: Record<string, number>) {
        const db = await createTestDatabase(dialect as Dialect)
        const mailer = recordingMailer()
        const server = Fastify({ trustProxy: true })
        await server.register(fastifyDrizzleAuth, { database: db.database, secret: SECRET, bcryptRounds: 4, routes: true, mailer, links: LINKS, sendVerificationOnRegister: false, mailRateLimit })
        t.teardown(async () => { await server.close(); await db.close() })
        await server.authService.register('attacker@example.com', PASSWORD)
        const { accessToken } = await server.authService.login('attacker@example.com', PASSWORD)
        const change = (newEmail: string, i: number) => server.inject({
          method: 'POST',
          url: '/email/change',
          payload: { current_password: PASSWORD, new_email: newEmail },
          headers: { ...bearer(accessToken), 'x-forwarded-for': `198.51.100.${i}` }
        })
        return { server, mailer, change }
      }
      const wide = await app({ maxEmailChangesPerAccount: 100 })
      const statuses = []
      for (let i = 0; i < 10; i++) statuses.push((await wide.change(`Victim+${i}@Example.com`, i)).statusCode)
      t.same(statuses, Array(10).fill(202), 'answered alike')
      await wide.mailer.until(1)
      await wide.server.authService.deliverMail()
      t.same(wide.mailer.sent.map((m) => m.to), ['victim+0@example.com'], 'one message for the one mailbox')

      const strict = await app({})
      const perAccount = []
      for (let i = 0; i < 4; i++) perAccount.push((await strict.change(`someone${i}@example.com`, i)).statusCode)
      t.same(perAccount, [202, 202, 202, 429], '3 email changes per account per hour, whatever the address and the client address')
      await strict.mailer.until(3)
      await strict.server.authService.deliverMail()
      t.equal(strict.mailer.sent.length, 3)
    })

    t.test('mailRateLimit: false lifts the limits', async (t) => {
      const { service, mailer } = await countingService(t, { mailRateLimit: false })
      await service.register('known@example.com', PASSWORD)
      for (let i = 0; i < 7; i++) await service.requestPasswordReset('known@example.com', { ip: '192.0.2.1' })
      t.equal(await service.deliverMail(), 7, 'no 429, no silent drop')
      const tokens = mailer.sent.map((m) => new URL((m as { link: string }).link).searchParams.get('token')!)
      // The outbox sends in any order: which link is the newest is not the delivery order's to say.
      const outcomes: Array<string | undefined> = []
      for (const token of tokens) outcomes.push(await service.resetPassword(token, 'Another-Horse-7-Staple').then(() => 'reset', (err: { code?: string }) => err.code))
      t.same(outcomes.sort(), ['invalid_token', 'invalid_token', 'invalid_token', 'invalid_token', 'invalid_token', 'invalid_token', 'reset'], 'each link voided the one before: one works')
      const user = (await service.store.users.findByEmail('known@example.com'))!
      for (let i = 0; i < 4; i++) await service.requestEmailChange(user.id, 'Another-Horse-7-Staple', `next${i}@example.com`)
      await service.settled()
      t.equal(await service.deliverMail(), 5, 'no per-account limit on email changes either (4, and the reset notice)')
    })

    t.test('links of one user requested and used all at once: one reset, the rest invalid, never a deadlock\'s 503', async (t) => {
      const { service, mailer } = await countingService(t, { mailRateLimit: false, sendVerificationOnRegister: false })
      await service.register('parallel@example.com', PASSWORD)
      await Promise.all(Array.from({ length: 6 }, async () => service.requestPasswordReset('parallel@example.com')))
      await service.settled()
      t.equal(await service.deliverMail(), 6)
      const tokens = mailer.sent.map((m) => new URL((m as { link: string }).link).searchParams.get('token')!)
      const outcomes = await Promise.all(tokens.map(async (token) => service.resetPassword(token, 'Another-Horse-7-Staple').then(() => 'reset', (err: { code?: string }) => err.code)))
      t.same(outcomes.filter((o) => o === 'reset'), ['reset'], 'exactly one link resets')
      t.same(outcomes.filter((o) => o !== 'reset').map(() => 'invalid_token'), outcomes.filter((o) => o !== 'reset'), 'the others are invalid links, not 503s')
    })

    t.test('work after the answer that fails is logged, never thrown at the caller', async (t) => {
      const db = await createTestDatabase(dialect as Dialect)
      const inner = dialect === 'sqlite' ? sqliteStore(':memory:') : pgStore(db.url!)
      const store = new CountingStore(inner)
      const warnings: string[] = []
      const log = { warn: (_details: unknown, message: string) => { warnings.push(message) }, error: () => {}, info: () => {}, debug: () => {}, trace: () => {}, fatal: () => {} }
      const service = new AuthService({ store, secret: SECRET, bcryptRounds: 4, mailer: recordingMailer(), links: LINKS, logger: log as never })
      t.teardown(async () => { await service.close(); await db.close() })
      await service.ready()
      store.override('users', 'findByEmail', async () => { throw new Error('the database went away') })
      await service.requestPasswordReset('known@example.com', { ip: '192.0.2.1' })
      await service.settled()
      t.match(warnings, [/a password reset request could not be completed after its answer/])
    })
  })
}
