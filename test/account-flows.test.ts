import t, { type Test } from 'tap'
import { smtpMailer } from '../src/index.ts'
import type { AuthEvents } from '../src/index.ts'
import { PASSWORD, bearer, buildApp as buildAppOn, login, registerAndLogin, testDatabase } from './fixtures/app.ts'
import { availableDialects } from './fixtures/databases.ts'
import { startSmtp } from './fixtures/smtp.ts'

const LINKS = {
  verifyEmail: 'https://app.example/verify?token={token}',
  resetPassword: 'https://app.example/reset?token={token}',
  changeEmail: 'https://app.example/confirm-email?token={token}'
}
const NEW_PASSWORD = 'Another-Horse-7-Staple'

// One suite per dialect: every flow against a real SMTP server, asserting on the mail it actually received.
for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    async function setup (t: Test, options: Parameters<typeof buildAppOn>[0] = {}) {
      const smtp = await startSmtp(t)
      // Registration's own verification link is the verification-loop suite's: these flows start without it.
      const app = await buildAppOn({ mailer: smtpMailer(smtp.url, { from: 'App <no-reply@app.example>' }), links: LINKS, sendVerificationOnRegister: false, ...options }, {}, dialect)
      t.teardown(() => app.close())
      await app.ready()
      const events: Array<[keyof AuthEvents, unknown]> = []
      for (const name of ['email_verified', 'password_reset_requested', 'password_reset', 'email_change_requested', 'email_changed', 'email_send_failed'] as const) {
        app.authService.on(name, (payload) => { events.push([name, payload]) })
      }
      return { app, smtp, events, db: testDatabase(app) }
    }

    const post = (app: Awaited<ReturnType<typeof setup>>['app'], url: string, payload?: object, token?: string) =>
      app.inject({ method: 'POST', url, payload, headers: token === undefined ? {} : bearer(token) })

    async function rows (db: Awaited<ReturnType<typeof setup>>['db'], text: string): Promise<Array<Record<string, unknown>>> {
      return db.query(text)
    }

    t.test('verification: the link arrives by SMTP, POSTing its token verifies once; a second use is 400 invalid_token', async (t) => {
      const { app, smtp, events, db } = await setup(t)
      const { accessToken } = await registerAndLogin(app)
      const requested = await post(app, '/verify-email/request', undefined, accessToken)
      t.equal(requested.statusCode, 202)
      t.same(requested.json(), { detail: 'A verification link is on its way' })
      const [mail] = await smtp.waitFor(1)
      t.same(mail.to, ['alice@example.com'])
      t.equal(mail.from, 'no-reply@app.example')
      t.equal(mail.subject, 'Confirm your email address')
      t.match(mail.link, /^https:\/\/app\.example\/verify\?token=[A-Za-z0-9_-]{43}$/)
      t.match(mail.html, mail.token!, 'the html part carries the same link')
      const stored = await rows(db, 'select token_hash, purpose, email, new_email from auth_action_tokens')
      t.equal(stored.length, 1)
      t.equal(stored[0].purpose, 'verify_email')
      t.not(stored[0].token_hash, mail.token, 'only a hash is stored')
      t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).json().is_verified, false)

      const verified = await post(app, '/verify-email', { token: mail.token })
      t.equal(verified.statusCode, 200)
      t.same(verified.json(), { detail: 'Email address verified' })
      t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).json().is_verified, true)
      const again = await post(app, '/verify-email', { token: mail.token })
      t.equal(again.statusCode, 400)
      t.same(again.json(), { detail: 'This link is invalid or has expired: request a new one', code: 'invalid_token' })
      const [, payload] = events.find(([name]) => name === 'email_verified')!
      const me = (await app.inject({ url: '/me', headers: bearer(accessToken) })).json()
      t.same(payload, { userId: me.id, email: 'alice@example.com' })

      const twice = await post(app, '/verify-email/request', undefined, accessToken)
      t.equal(twice.statusCode, 409)
      t.equal(twice.json().code, 'already_verified')
      t.equal(smtp.received.length, 1, 'nothing more was sent')
    })

    t.test('one answer for every token that cannot be used: unknown, malformed, wrong purpose, expired, used', async (t) => {
      const { app, smtp, db } = await setup(t)
      await registerAndLogin(app)
      t.equal((await post(app, '/password/forgot', { email: 'alice@example.com' })).statusCode, 202)
      const [reset] = await smtp.waitFor(1)
      const expected = { detail: 'This link is invalid or has expired: request a new one', code: 'invalid_token' }
      for (const token of ['x'.repeat(43), 'not a token', '', 'a'.repeat(5000), reset.token!.slice(1)]) {
        const res = await post(app, '/verify-email', { token })
        t.equal(res.statusCode, 400, `verify ${token.slice(0, 10)}`)
        t.same(res.json(), expected)
      }
      // The reset token is not a verification token, nor a change token.
      t.same((await post(app, '/verify-email', { token: reset.token })).json(), expected)
      t.same((await post(app, '/email/confirm', { token: reset.token })).json(), expected)
      await db.query(`update auth_action_tokens set expires_at = ${dialect === 'sqlite' ? '1' : "now() - interval '1 second'"}`)
      const expired = await post(app, '/password/reset', { token: reset.token, new_password: NEW_PASSWORD })
      t.equal(expired.statusCode, 400)
      t.same(expired.json(), expected)
      t.equal((await post(app, '/login', { email: 'alice@example.com', password: PASSWORD })).statusCode, 200, 'the old password still works')
      const missing = await post(app, '/verify-email', {})
      t.equal(missing.statusCode, 400)
      t.equal(missing.json().code, 'invalid_request')
    })

    t.test('reset: sets the password, ends every session, verifies the address, logs nobody in, mails a notice', async (t) => {
      const { app, smtp, events, db } = await setup(t)
      const first = await registerAndLogin(app)
      const second = await login(app)
      const forgot = await post(app, '/password/forgot', { email: '  Alice@Example.com ' })
      t.equal(forgot.statusCode, 202)
      t.same(forgot.json(), { detail: 'If this address belongs to an account, a reset link is on its way' })
      const [mail] = await smtp.waitFor(1)
      t.same(mail.to, ['alice@example.com'])
      t.equal(mail.subject, 'Reset your password')
      t.match(mail.link, /^https:\/\/app\.example\/reset\?token=/)
      const requested = events.find(([name]) => name === 'password_reset_requested')![1] as Record<string, unknown>
      t.same(Object.keys(requested).sort(), ['email', 'ip', 'userId'], 'the event never carries the token')

      const weak = await post(app, '/password/reset', { token: mail.token, new_password: '12345678' })
      t.equal(weak.statusCode, 422, 'validators apply')
      const long = await post(app, '/password/reset', { token: mail.token, new_password: 'é'.repeat(40) + 'Aa1!' })
      t.equal(long.statusCode, 422, 'the 72-byte rule applies')
      const reset = await post(app, '/password/reset', { token: mail.token, new_password: NEW_PASSWORD })
      t.equal(reset.statusCode, 200)
      t.same(reset.json(), { detail: 'Password changed: log in with the new password' })
      t.notOk(reset.headers['set-cookie'], 'nobody is logged in')
      for (const session of [first, second]) {
        t.equal((await app.inject({ url: '/me', headers: bearer(session.accessToken) })).statusCode, 401, 'every session ended')
        t.equal((await post(app, '/refresh', { refresh_token: session.refreshToken })).statusCode, 401)
      }
      t.equal((await post(app, '/login', { email: 'alice@example.com', password: PASSWORD })).statusCode, 401, 'the old password is gone')
      const after = await login(app, 'alice@example.com', NEW_PASSWORD)
      t.equal((await app.inject({ url: '/me', headers: bearer(after.accessToken) })).json().is_verified, true, 'the link proved the address')
      const [, notice] = await smtp.waitFor(2)
      t.same(notice.to, ['alice@example.com'])
      t.equal(notice.subject, 'Your password was changed')
      t.equal(notice.link, undefined)
      t.equal((await post(app, '/password/reset', { token: mail.token, new_password: 'Third-Horse-5-Staple' })).statusCode, 400, 'single use')
      t.ok(events.some(([name]) => name === 'password_reset'))
      const outbox = await rows(db, 'select count(*) as n from auth_outbox')
      t.equal(Number(outbox[0].n), 0, 'delivered messages are deleted')
    })

    t.test('real SMTP: one message per request, none for an unknown address, none for an inactive account', async (t) => {
      const { app, smtp, db } = await setup(t)
      await registerAndLogin(app)
      await registerAndLogin(app, 'bob@example.com')
      await app.authService.deactivate((await app.authService.store.users.findByEmail('bob@example.com'))!.id)
      for (const email of ['nobody@example.com', 'bob@example.com', 'alice@example.com']) {
        t.equal((await post(app, '/password/forgot', { email })).statusCode, 202)
      }
      const [mail] = await smtp.waitFor(1)
      t.same(mail.to, ['alice@example.com'])
      t.equal(await app.authService.deliverMail(), 0, 'nothing else is waiting')
      t.same(await rows(db, 'select email from auth_action_tokens'), [{ email: 'alice@example.com' }], 'one link issued')
      t.equal(smtp.received.length, 1, 'one message in all')
    })

    t.test('20 parallel uses of one reset token: exactly one 200, 19 of 400, one notice', async (t) => {
      const { app, smtp } = await setup(t)
      await registerAndLogin(app)
      await post(app, '/password/forgot', { email: 'alice@example.com' })
      const [mail] = await smtp.waitFor(1)
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        post(app, '/password/reset', { token: mail.token, new_password: `${NEW_PASSWORD}-${i}` })))
      const statuses = results.map((r) => r.statusCode)
      t.equal(statuses.filter((s) => s === 200).length, 1)
      t.equal(statuses.filter((s) => s === 400).length, 19)
      const winner = statuses.indexOf(200)
      t.equal((await post(app, '/login', { email: 'alice@example.com', password: `${NEW_PASSWORD}-${winner}` })).statusCode, 200)
      await smtp.waitFor(2)
      await app.authService.deliverMail()
      t.equal(smtp.received.length, 2, 'one reset link, one notice')
    })

    t.test('invalidation: a newer link voids the older; a password change voids reset and change links; deactivate voids all', async (t) => {
      const { app, smtp, db } = await setup(t, { mailRateLimit: { perRecipientSeconds: 1, maxRequestsPerIp: 100 } })
      const { accessToken } = await registerAndLogin(app)
      await post(app, '/password/forgot', { email: 'alice@example.com' })
      const [older] = await smtp.waitFor(1)
      await db.query('delete from auth_login_attempts')
      await post(app, '/password/forgot', { email: 'alice@example.com' })
      const [, newer] = await smtp.waitFor(2)
      t.equal((await post(app, '/password/reset', { token: older.token, new_password: NEW_PASSWORD })).statusCode, 400, 'older void')

      await post(app, '/email/change', { current_password: PASSWORD, new_email: 'alice2@example.com' }, accessToken)
      const [, , change] = await smtp.waitFor(3)
      await post(app, '/verify-email/request', undefined, accessToken)
      const [, , , verify] = await smtp.waitFor(4)
      t.equal((await post(app, '/password', { current_password: PASSWORD, new_password: NEW_PASSWORD }, accessToken)).statusCode, 200)
      t.equal((await post(app, '/password/reset', { token: newer.token, new_password: 'Third-Horse-5-Staple' })).statusCode, 400, 'reset void after a change')
      t.equal((await post(app, '/email/confirm', { token: change.token })).statusCode, 400, 'change void after a password change')
      const user = (await app.authService.store.users.findByEmail('alice@example.com'))!
      await app.authService.deactivate(user.id)
      t.equal((await post(app, '/verify-email', { token: verify.token })).statusCode, 400, 'verification void after deactivation')
      const live = await rows(db, 'select count(*) as n from auth_action_tokens where used_at is null')
      t.equal(Number(live[0].n), 0)
      await db.query('delete from auth_login_attempts')
      t.equal((await post(app, '/password/forgot', { email: 'alice@example.com' })).statusCode, 202, 'an inactive account answers alike')
      const issued = await rows(db, 'select count(*) as n from auth_action_tokens')
      t.equal(Number(issued[0].n), 4, '...and gets no link')
    })

    t.test('email change: confirmed at the new address, other sessions end, the old address is told, old links die', async (t) => {
      const { app, smtp, events, db } = await setup(t)
      const current = await registerAndLogin(app)
      const other = await login(app)
      await post(app, '/password/forgot', { email: 'alice@example.com' })
      const [reset] = await smtp.waitFor(1)
      const wrong = await post(app, '/email/change', { current_password: 'Wrong-Password-1', new_email: 'new@example.com' }, current.accessToken)
      t.equal(wrong.statusCode, 403)
      t.equal(wrong.json().code, 'invalid_current_password')
      const same = await post(app, '/email/change', { current_password: PASSWORD, new_email: 'ALICE@example.com' }, current.accessToken)
      t.equal(same.statusCode, 409)
      t.equal(same.json().code, 'email_unchanged')
      const anonymous = await post(app, '/email/change', { current_password: PASSWORD, new_email: 'new@example.com' })
      t.equal(anonymous.statusCode, 401)
      const requested = await post(app, '/email/change', { current_password: PASSWORD, new_email: 'New@Example.com' }, current.accessToken)
      t.equal(requested.statusCode, 202)
      t.same(requested.json(), { detail: 'A confirmation link was sent to the new address' })
      const [, mail] = await smtp.waitFor(2)
      t.same(mail.to, ['new@example.com'])
      t.match(mail.link, /^https:\/\/app\.example\/confirm-email\?token=/)
      const pending = await rows(db, 'select email from auth_users')
      t.same(pending.map((r) => r.email), ['alice@example.com'], 'the new address is only on the token row until confirmed')
      const tokenRow = await rows(db, "select email, new_email from auth_action_tokens where purpose = 'change_email'")
      t.same(tokenRow, [{ email: 'new@example.com', new_email: 'new@example.com' }])

      const liveDevices = async () => (await rows(db, 'select revoked_at from auth_device_tokens')).filter((r) => r.revoked_at === null).length
      t.equal(await liveDevices(), 2, 'each login made a device token')
      const confirmed = await app.inject({ method: 'POST', url: '/email/confirm', payload: { token: mail.token }, headers: bearer(current.accessToken) })
      t.equal(confirmed.statusCode, 200)
      t.same(confirmed.json(), { detail: 'Email address changed' })
      t.equal(await liveDevices(), 0, 'the confirmation ended every device token')
      t.equal((await app.inject({ url: '/me', headers: bearer(current.accessToken) })).json().email, 'new@example.com', 'the confirming session stays')
      t.equal((await app.inject({ url: '/me', headers: bearer(other.accessToken) })).statusCode, 401, 'other sessions end')
      const [, , notice] = await smtp.waitFor(3)
      t.same(notice.to, ['alice@example.com'])
      t.equal(notice.subject, 'Your email address was changed')
      t.match(notice.text, 'new@example.com')
      t.equal((await post(app, '/password/reset', { token: reset.token, new_password: NEW_PASSWORD })).statusCode, 400, 'a link sent to the old address dies')
      t.equal((await post(app, '/email/confirm', { token: mail.token })).statusCode, 400, 'single use')
      t.equal((await post(app, '/login', { email: 'alice@example.com', password: PASSWORD })).statusCode, 401)
      t.equal((await post(app, '/login', { email: 'new@example.com', password: PASSWORD })).statusCode, 200)
      t.same(events.filter(([name]) => name.startsWith('email_change')).map(([name]) => name), ['email_change_requested', 'email_changed'])
    })

    t.test('email change: a taken address is 409 at the request, and again at confirmation if taken meanwhile (nothing written)', async (t) => {
      const { app, smtp, db } = await setup(t)
      const alice = await registerAndLogin(app)
      await registerAndLogin(app, 'bob@example.com')
      const taken = await post(app, '/email/change', { current_password: PASSWORD, new_email: 'bob@example.com' }, alice.accessToken)
      t.equal(taken.statusCode, 409)
      t.equal(taken.json().code, 'email_taken')
      await post(app, '/email/change', { current_password: PASSWORD, new_email: 'carol@example.com' }, alice.accessToken)
      const [mail] = await smtp.waitFor(1)
      t.equal((await post(app, '/register', { email: 'carol@example.com', password: PASSWORD })).statusCode, 201)
      const late = await post(app, '/email/confirm', { token: mail.token })
      t.equal(late.statusCode, 409)
      t.same(late.json(), { detail: 'Email is already registered', code: 'email_taken' })
      t.equal((await app.inject({ url: '/me', headers: bearer(alice.accessToken) })).json().email, 'alice@example.com', 'no half-write')
      const unused = await rows(db, "select count(*) as n from auth_action_tokens where purpose = 'change_email' and used_at is null")
      t.equal(Number(unused[0].n), 1, 'the token was not used up by the refused confirmation')
    })

    t.test('a write that fails inside a confirmation rolls all of it back: 503, the token still usable, no notice, sessions alive', async (t) => {
      const { app, smtp, db } = await setup(t)
      const alice = await registerAndLogin(app)
      const other = await login(app)
      await post(app, '/email/change', { current_password: PASSWORD, new_email: 'new@example.com' }, alice.accessToken)
      const [mail] = await smtp.waitFor(1)
      if (dialect === 'sqlite') {
        await db.query("create trigger fda_block before update of email on auth_users begin select raise(abort, 'blocked by a test'); end")
      } else {
        await db.query("create function fda_block() returns trigger language plpgsql as $$ begin raise exception 'blocked by a test'; end $$")
        await db.query('create trigger fda_block before update of email on auth_users for each row execute function fda_block()')
      }
      const failed = await post(app, '/email/confirm', { token: mail.token })
      t.equal(failed.statusCode, 503)
      t.equal(failed.json().code, 'service_unavailable')
      t.notMatch(failed.body, /blocked by a test/, 'nothing of the database in the answer')
      t.same(await rows(db, 'select email from auth_users'), [{ email: 'alice@example.com' }])
      t.same(await rows(db, 'select id from auth_outbox'), [], 'no notice queued')
      t.equal((await app.inject({ url: '/me', headers: bearer(other.accessToken) })).statusCode, 200, 'no session ended')
      await db.query(dialect === 'sqlite' ? 'drop trigger fda_block' : 'drop trigger fda_block on auth_users')
      t.equal((await post(app, '/email/confirm', { token: mail.token })).statusCode, 200, 'the token was not used up')
      const [, notice] = await smtp.waitFor(2)
      t.equal(notice.subject, 'Your email address was changed')
    })

    t.test('a second request within the recipient period is answered alike and sends nothing (verification, email change)', async (t) => {
      const { app, smtp, db } = await setup(t)
      const { accessToken } = await registerAndLogin(app)
      for (let i = 0; i < 2; i++) {
        t.equal((await post(app, '/verify-email/request', undefined, accessToken)).statusCode, 202)
        t.equal((await post(app, '/email/change', { current_password: PASSWORD, new_email: 'new@example.com' }, accessToken)).statusCode, 202)
      }
      await smtp.waitFor(2)
      t.equal(await app.authService.deliverMail(), 0)
      t.same((await rows(db, 'select purpose from auth_action_tokens order by purpose')).map((r) => r.purpose), ['change_email', 'verify_email'])
      t.equal(smtp.received.length, 2)
    })

    t.test('requireVerifiedEmail: 403 email_not_verified after the password check, then login works once verified', async (t) => {
      const { app, smtp } = await setup(t, { requireVerifiedEmail: true })
      t.equal((await post(app, '/register', { email: 'alice@example.com', password: PASSWORD })).statusCode, 201)
      const refused = await post(app, '/login', { email: 'alice@example.com', password: PASSWORD })
      t.equal(refused.statusCode, 403)
      t.same(refused.json(), { detail: 'Email address is not verified: follow the link sent to it, or ask for a new one with POST /verify-email/resend { email }', code: 'email_not_verified' })
      t.equal((await post(app, '/login', { email: 'alice@example.com', password: 'Wrong-Password-1' })).statusCode, 401, 'a wrong password is still 401')
      const user = (await app.authService.store.users.findByEmail('alice@example.com'))!
      await app.authService.requestEmailVerification(user.id)
      const [mail] = await smtp.waitFor(1)
      await app.authService.verifyEmail(mail.token!)
      t.equal((await post(app, '/login', { email: 'alice@example.com', password: PASSWORD })).statusCode, 200)
    })
  })
}
