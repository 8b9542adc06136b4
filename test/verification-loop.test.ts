import Fastify from 'fastify'
import t, { type Test } from 'tap'
import fastifyDrizzleAuth, { AuthService, smtpMailer } from '../src/index.ts'
import { PASSWORD, SECRET, buildApp } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'
import { startSmtp } from './fixtures/smtp.ts'

const LINKS = {
  verifyEmail: 'https://app.example/verify#token={token}',
  resetPassword: 'https://app.example/reset#token={token}',
  changeEmail: 'https://app.example/confirm-email#token={token}'
}
const RESENT = { detail: 'If this address belongs to an account waiting for verification, a link is on its way' }

for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    async function setup (t: Test, options: Record<string, unknown> = {}) {
      const smtp = await startSmtp(t)
      const app = await buildApp({ mailer: smtpMailer(smtp.url, { from: 'no-reply@app.example' }), links: LINKS, ...options }, {}, dialect)
      t.teardown(() => app.close())
      await app.ready()
      const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload })
      return { app, smtp, post }
    }

    t.test('requireVerifiedEmail, the whole loop over SMTP: register, the mail, its link, verify, login', async (t) => {
      const { smtp, post } = await setup(t, { requireVerifiedEmail: true })
      const registered = await post('/register', { email: 'new@example.com', password: PASSWORD })
      t.equal(registered.statusCode, 201)
      t.equal(registered.json().is_verified, false)
      const [mail] = await smtp.waitFor(1)
      t.same(mail.to, ['new@example.com'], 'the registration sent the verification link by itself')
      t.equal(mail.subject, 'Confirm your email address')
      t.match(mail.link, /^https:\/\/app\.example\/verify#token=[A-Za-z0-9_-]{43}$/)

      const early = await post('/login', { email: 'new@example.com', password: PASSWORD })
      t.equal(early.statusCode, 403)
      t.equal(early.json().code, 'email_not_verified')
      t.match(early.json().detail, '/verify-email/resend', 'the refusal names the way to a new link')

      t.equal((await post('/verify-email', { token: mail.token })).statusCode, 200)
      const signedIn = await post('/login', { email: 'new@example.com', password: PASSWORD })
      t.equal(signedIn.statusCode, 200)
      t.type(signedIn.json().access_token, 'string')
    })

    t.test('resend: 202 alike for unverified, unknown, verified and inactive addresses; only the unverified gets a link', async (t) => {
      const { app, smtp, post } = await setup(t, { requireVerifiedEmail: true, sendVerificationOnRegister: false })
      for (const email of ['waiting@example.com', 'verified@example.com', 'inactive@example.com']) {
        t.equal((await post('/register', { email, password: PASSWORD })).statusCode, 201)
      }
      await app.authService.deliverMail()
      t.equal(smtp.received.length, 0, 'sendVerificationOnRegister: false sends nothing at registration')
      // The resend is also how an account that never got its link verifies.
      t.equal((await post('/verify-email/resend', { email: 'verified@example.com' })).statusCode, 202)
      const [first] = await smtp.waitFor(1)
      t.same(first.to, ['verified@example.com'])
      t.equal((await post('/verify-email', { token: first.token })).statusCode, 200)
      const inactive = await app.authService.login('inactive@example.com', PASSWORD).catch(() => undefined)
      t.equal(inactive, undefined, 'unverified accounts cannot log in')
      const { id } = (await app.authService.store.users.findByEmail('inactive@example.com'))!
      await app.authService.deactivate(id)

      const bodies = []
      for (const email of ['waiting@example.com', 'unknown@example.com', 'verified@example.com', 'inactive@example.com']) {
        const res = await post('/verify-email/resend', { email })
        t.equal(res.statusCode, 202, email)
        bodies.push(res.body)
      }
      t.same(new Set(bodies), new Set([JSON.stringify(RESENT)]), 'one answer for every address')
      await app.authService.deliverMail()
      await smtp.waitFor(2)
      t.same(smtp.received.slice(1).map((mail) => mail.to), [['waiting@example.com']], 'one link, to the account waiting for it')
      const invalid = await post('/verify-email/resend', { email: 'not an address' })
      t.equal(invalid.statusCode, 422, invalid.body)
    })

    t.test('AuthService.register sends the link too, after its answer; settled() waits for it', async (t) => {
      const smtp = await startSmtp(t)
      const { createTestDatabase } = await import('./fixtures/databases.ts')
      const db = await createTestDatabase(dialect)
      const service = new AuthService({ database: db.database, secret: SECRET, bcryptRounds: 4, mailer: smtpMailer(smtp.url), links: LINKS })
      t.teardown(async () => { await service.close(); await db.close() })
      await service.ready()
      const later: Array<() => Promise<void>> = []
      await service.register('script@example.com', PASSWORD, {}, { after: (work) => { later.push(work) } })
      t.equal(later.length, 1, 'the link is handed to the caller\'s scheduler, not written before the answer')
      t.equal(await service.deliverMail(), 0, 'nothing queued before the work runs')
      for (const work of later) await work()
      t.equal(await service.deliverMail(), 1)
      t.same((await smtp.waitFor(1))[0].to, ['script@example.com'])
      await service.register('default@example.com', PASSWORD)
      await service.settled()
      t.equal(await service.deliverMail(), 1, 'by default: after the current turn')
      // The per-recipient limit covers the registration's link too: a resend just before it counts.
      await service.resendEmailVerification('quick@example.com')
      await service.register('quick@example.com', PASSWORD)
      await service.settled()
      t.equal(await service.deliverMail(), 0, 'one message per recipient and purpose per period')
      await t.rejects(service.register('bad-after@example.com', PASSWORD, {}, { after: 'soon' as never }), { code: 'invalid_argument' })
    })
  })
}

t.test('requireVerifiedEmail without a mailer fails ready() and says to set one', async (t) => {
  const app = Fastify()
  await t.rejects(async () => {
    await app.register(fastifyDrizzleAuth, { database: ':memory:', secret: SECRET, requireVerifiedEmail: true })
    await app.ready()
  }, { name: 'ConfigurationError', message: /`requireVerifiedEmail` needs `mailer`/ })
  await app.close().catch(() => {})
  t.throws(() => new AuthService({ database: ':memory:', secret: SECRET, sendVerificationOnRegister: 'yes' as never }), /`sendVerificationOnRegister` must be true or false/)
})
