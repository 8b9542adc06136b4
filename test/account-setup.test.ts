/**
 * The account options are checked once and say what to set; the shipped mailers (SMTP on nodemailer,
 * a directory of .eml files); templates; the new routes in OpenAPI; lifetimes; the purge of spent tokens.
 */
import SwaggerParser from '@apidevtools/swagger-parser'
import fastifySwagger from '@fastify/swagger'
import Fastify from 'fastify'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { simpleParser } from 'mailparser'
import t from 'tap'
import fastifyDrizzleAuth, {
  AuthService, ConfigurationError, defaultTemplates, directoryMailer, type MailMessage, smtpMailer
} from '../src/index.ts'
import { PASSWORD, SECRET } from './fixtures/app.ts'
import { availableDialects, createTestDatabase, type Dialect } from './fixtures/databases.ts'
import { startSmtp } from './fixtures/smtp.ts'
import { tempDir } from './fixtures/temp.ts'

const LINKS = {
  verifyEmail: 'https://app.example/verify?token={token}',
  resetPassword: 'https://app.example/reset?token={token}',
  changeEmail: 'https://app.example/confirm-email?token={token}'
}
const mailer = { send: async () => {} }
const base = { database: ':memory:', secret: SECRET, bcryptRounds: 4 }

t.test('bad account options are refused at construction with a message that says what to set', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ mailer: {} }, /`mailer` must be an object with a send\(message\) method/],
    [{ mailer }, /`links` is missing: with `mailer`, set links: \{ verifyEmail, resetPassword, changeEmail \}/],
    [{ mailer, links: { ...LINKS, resetPassword: 'https://app.example/reset' } }, /`links.resetPassword` must be an http\(s\) URL of your app's page holding \{token\}, e.g. 'https:\/\/app.example\/reset\?token=\{token\}'/],
    [{ mailer, links: { ...LINKS, verifyEmail: 'javascript:{token}' } }, /`links.verifyEmail` must be an http\(s\) URL/],
    [{ mailer, links: { ...LINKS, changeEmail: undefined } }, /`links.changeEmail`.*confirm-email/],
    [{ requireVerifiedEmail: 'yes' }, /`requireVerifiedEmail` must be true or false/],
    [{ actionTokenTtl: { resetPassword: 899 } }, /`actionTokenTtl.resetPassword` must be a whole number of seconds from 900 to 86400 \(default 3600\)/],
    [{ actionTokenTtl: { verifyEmail: 86_401 } }, /`actionTokenTtl.verifyEmail` must be .* \(default 86400\)/],
    [{ mailTemplates: { welcome: () => ({}) } }, /`mailTemplates.welcome` is not a template: use one of verify_email, reset_password/],
    [{ mailTemplates: { verify_email: 'Hi' } }, /`mailTemplates.verify_email` is not a template/],
    [{ outbox: { maxAttempts: 0 } }, /`outbox.maxAttempts` must be a positive integer \(default 8\)/],
    [{ outbox: { leaseMs: 1.5 } }, /`outbox.leaseMs` must be a positive integer \(default 60000\)/],
    [{ mailRateLimit: { maxRequestsPerIp: -1 } }, /`mailRateLimit.maxRequestsPerIp` must be a positive integer \(default 5\)/]
  ]
  for (const [options, message] of cases) {
    t.throws(() => new AuthService({ ...base, ...options }), { name: 'ConfigurationError', message }, JSON.stringify(options))
  }
  const app = Fastify()
  await t.rejects(async () => { await app.register(fastifyDrizzleAuth, { ...base, mailer }); await app.ready() }, ConfigurationError, 'the plugin too')
  await app.close()
  t.throws(() => smtpMailer('http://mail.example'), { name: 'ConfigurationError', message: /smtpMailer\(\) takes an smtp:\/\/ or smtps:\/\/ URL/ })
  t.throws(() => smtpMailer('not a url'), ConfigurationError)
})

t.test('without `mailer` the flows say what to set, and the routes are not mounted', async (t) => {
  const service = new AuthService(base)
  t.teardown(() => service.close())
  await service.ready()
  const user = await service.register('alice@example.com', PASSWORD)
  await t.rejects(service.requestPasswordReset('alice@example.com'), { name: 'ConfigurationError', message: /emails cannot be sent: set `mailer`/ })
  await t.rejects(service.requestEmailVerification(user.id), ConfigurationError)
  await t.rejects(service.requestEmailChange(user.id, PASSWORD, 'new@example.com'), ConfigurationError)
  t.equal(await service.deliverMail(), 0)
  const app = Fastify()
  await app.register(fastifyDrizzleAuth, { ...base, routes: true })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/password/forgot', payload: { email: 'a@example.com' } })).statusCode, 404)
})

t.test('the service refuses wrong arguments as 4xx errors, never a TypeError', async (t) => {
  const service = new AuthService({ ...base, mailer, links: LINKS })
  t.teardown(() => service.close())
  await service.ready()
  const user = await service.register('alice@example.com', PASSWORD)
  await t.rejects(service.requestEmailVerification(''), { name: 'InvalidArgumentError' })
  await t.rejects(service.requestEmailVerification('no-such-user'), { name: 'AuthenticationError', code: 'user_not_found' })
  await t.rejects(service.requestPasswordReset('alice@example.com', { ip: 7 as unknown as string }), { name: 'InvalidArgumentError' })
  await t.rejects(service.requestPasswordReset('alice@example.com', null as unknown as object), { name: 'InvalidArgumentError' })
  await t.rejects(service.requestPasswordReset('alice@example.com', { after: 5 as never }), { name: 'InvalidArgumentError', message: /`options.after` must be a function/ })
  await t.rejects(service.resetPassword('x'.repeat(43), 42 as unknown as string), { name: 'InvalidPasswordError' })
  await t.rejects(service.requestEmailChange(user.id, 42 as unknown as string, 'b@example.com'), { name: 'InvalidPasswordError' })
  await t.rejects(service.requestEmailChange(user.id, PASSWORD, 'not an address'), { name: 'InvalidEmailError' })
  await t.rejects(service.confirmEmailChange('x'.repeat(43), { keepSessionId: 5 as unknown as string }), { name: 'InvalidArgumentError' })
})

t.test('templates: an application template replaces the default; one that returns no strings is a clear error', async (t) => {
  const sent: MailMessage[] = []
  const service = new AuthService({
    ...base,
    mailer: { send: (m: MailMessage) => { sent.push(m) } },
    links: LINKS,
    sendVerificationOnRegister: false,
    mailTemplates: {
      reset_password: ({ link }) => ({ subject: 'Your Example reset', text: `Go to ${link}`, html: `<a href="${link}">reset</a>` })
    }
  })
  t.teardown(() => service.close())
  await service.ready()
  const user = await service.register('alice@example.com', PASSWORD)
  await service.requestPasswordReset('alice@example.com')
  t.equal(await service.deliverMail(), 1)
  t.match(sent[0], { type: 'reset_password', to: 'alice@example.com', subject: 'Your Example reset', text: /^Go to https:\/\/app\.example\/reset\?token=[\w-]{43}$/ })
  t.ok(user.id)
  // A template that cannot render is refused when the service is made, not after a request was answered.
  t.throws(() => new AuthService({ ...base, mailer: { send: () => {} }, links: LINKS, mailTemplates: { verify_email: () => ({ subject: 'x' }) as never } }),
    { name: 'ConfigurationError', message: /`mailTemplates.verify_email` template must return \{ subject, text, html \} strings/ })
  t.throws(() => new AuthService({ ...base, mailer: { send: () => {} }, links: LINKS, mailTemplates: { reset_password: () => { throw new Error('no such key') } } }),
    { name: 'ConfigurationError', message: /`mailTemplates.reset_password` template threw on a sample message: no such key/ })
  t.match(defaultTemplates.change_email_notice({ to: 'a@example.com', newEmail: '<b>@example.com' }).html, '&#60;b&#62;', 'the default html escapes')
})

t.test('directoryMailer: each message is a whole .eml file, owner-readable only, parsed back by a mail parser', async (t) => {
  const dir = join(tempDir(t, 'fda-mail-'), 'mail')
  const service = new AuthService({ ...base, mailer: directoryMailer(dir, { from: 'App <no-reply@app.example>' }), links: LINKS, sendVerificationOnRegister: false })
  t.teardown(() => service.close())
  await service.ready()
  await service.register('alice@example.com', PASSWORD)
  await service.requestPasswordReset('alice@example.com')
  t.equal(await service.deliverMail(), 1)
  const files = readdirSync(dir)
  t.equal(files.length, 1)
  t.match(files[0], /^\d{4}-\d\d-\d\dT[\d-]+Z-reset_password-[0-9a-f]{8}\.eml$/)
  t.equal(statSync(join(dir, files[0])).mode & 0o777, 0o600)
  const parsed = await simpleParser(readFileSync(join(dir, files[0])))
  t.equal(parsed.subject, 'Reset your password')
  t.match(parsed.text, /https:\/\/app\.example\/reset\?token=[\w-]{43}/)
  t.match(JSON.stringify(parsed.from?.value), 'no-reply@app.example')
  t.match(JSON.stringify(parsed.to), 'alice@example.com')
  t.equal(directoryMailer(dir).directory, dir)
})

t.test('smtpMailer: the sender defaults to the SMTP user when it is an address, else no-reply@ the host', async (t) => {
  const smtp = await startSmtp(t)
  const port = new URL(smtp.url).port
  const byUser = smtpMailer(`smtp://mailer%40app.example:pw@127.0.0.1:${port}`)
  t.equal(byUser.from, 'mailer@app.example')
  const byHost = smtpMailer(smtp.url)
  t.equal(byHost.from, 'no-reply@127.0.0.1')
  await byUser.send({ type: 'password_changed', to: 'alice@example.com', subject: 'S', text: 'T', html: '<p>T</p>' })
  const [mail] = await smtp.waitFor(1)
  t.equal(mail.from, 'mailer@app.example')
  byUser.close()
  byHost.close()
})

t.test('OpenAPI: the six routes are documented, valid, secured where a bearer is needed', async (t) => {
  const app = Fastify()
  await app.register(fastifySwagger, { openapi: { openapi: '3.0.3', info: { title: 't', version: '1' } } })
  await app.register(fastifyDrizzleAuth, { ...base, routes: true, mailer, links: LINKS })
  t.teardown(() => app.close())
  await app.ready()
  const doc = app.swagger() as unknown as { paths: Record<string, { post: { operationId: string, security?: unknown, requestBody?: unknown, responses: Record<string, unknown> } }> }
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never))
  const expected: Record<string, [string, boolean, string]> = {
    '/verify-email/request': ['authRequestEmailVerification', true, '202'],
    '/verify-email': ['authVerifyEmail', false, '200'],
    '/password/forgot': ['authForgotPassword', false, '202'],
    '/password/reset': ['authResetPassword', false, '200'],
    '/email/change': ['authChangeEmail', true, '202'],
    '/email/confirm': ['authConfirmEmailChange', false, '200']
  }
  for (const [path, [operationId, secured, success]] of Object.entries(expected)) {
    const op = doc.paths[path].post
    t.equal(op.operationId, operationId)
    t.equal(Array.isArray(op.security) && op.security.length > 0, secured, `${path} security`)
    t.ok(op.responses[success], `${path} answers ${success}`)
    t.ok(op.responses['400'] && op.responses['429'], `${path} documents its errors`)
    if (path !== '/verify-email/request') t.ok(op.requestBody, `${path} has a body schema`)
  }
  t.notOk(Object.keys(doc.paths).some((p) => /verify|reset|confirm/.test(p) && 'get' in doc.paths[p]), 'no GET consumes a token')
})

for (const dialect of await availableDialects()) {
  t.test(`${dialect}: lifetimes follow actionTokenTtl; the purge removes used and expired tokens only`, async (t) => {
    const db = await createTestDatabase(dialect as Dialect)
    const sent: MailMessage[] = []
    const service = new AuthService({
      database: db.database,
      secret: SECRET,
      bcryptRounds: 4,
      mailer: { send: (m: MailMessage) => { sent.push(m) } },
      links: LINKS,
      sendVerificationOnRegister: false,
      actionTokenTtl: { resetPassword: 900, verifyEmail: 7200, changeEmail: 86_400 }
    })
    t.teardown(async () => { await service.close(); await db.close() })
    await service.ready()
    const user = await service.register('alice@example.com', PASSWORD)
    const before = Date.now()
    await service.requestPasswordReset('alice@example.com')
    await service.requestEmailVerification(user.id)
    await service.requestEmailChange(user.id, PASSWORD, 'new@example.com')
    // The reset and verification links are written after their answers: wait for that work.
    await service.settled()
    const rows = await db.query('select purpose, created_at, expires_at from auth_action_tokens')
    const ttl = Object.fromEntries(rows.map((r) => [r.purpose, (new Date(r.expires_at as string | number).getTime() - new Date(r.created_at as string | number).getTime()) / 1000]))
    t.same(ttl, { reset_password: 900, verify_email: 7200, change_email: 86_400 })
    t.ok(rows.every((r) => new Date(r.created_at as string | number).getTime() >= before - 1000))
    await service.deliverMail()
    const verify = sent.find((m) => m.type === 'verify_email') as { link: string }
    await service.verifyEmail(new URL(verify.link).searchParams.get('token')!)
    await db.query(`update auth_action_tokens set expires_at = ${dialect === 'sqlite' ? '1' : "now() - interval '1 hour'"} where purpose = 'reset_password'`)
    t.equal(await service.purgeExpired() >= 2, true)
    const left = await db.query('select purpose from auth_action_tokens')
    t.same(left.map((r) => r.purpose), ['change_email'], 'only the live change token stays')
  })
}
