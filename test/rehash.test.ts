/**
 * After bcryptRounds changes, a successful login rehashes at the configured cost, so an
 * existing account costs the same comparison as an unknown email (whose dummy hash has the configured cost).
 * Counted by bcrypt calls and their cost, never timed.
 */
import bcrypt from 'bcrypt'
import t from 'tap'
import { PASSWORD, buildApp, testDatabase } from './fixtures/app.ts'
import { holdBcrypt } from './fixtures/bcrypt-hold.ts'
import { availableDialects } from './fixtures/databases.ts'

for (const dialect of await availableDialects()) {
  t.test(dialect, async (t) => {
    t.test('a login with a hash of another cost rehashes it once, at the configured cost', async (t) => {
      const app = await buildApp({ bcryptRounds: 5 }, {}, dialect)
      t.teardown(() => app.close())
      const user = await app.authService.register('alice@example.com', PASSWORD)
      // As if the account was made when bcryptRounds was 4.
      await app.authService.store.users.update(user.id, { passwordHash: bcrypt.hashSync(PASSWORD, 4) }, new Date())
      const calls = holdBcrypt(t).calls
      const login = () => app.inject({ method: 'POST', url: '/login', payload: { email: 'alice@example.com', password: PASSWORD } })
      t.equal((await login()).statusCode, 200)
      t.same(calls, [{ op: 'compare', cost: 4 }, { op: 'hash', cost: 5 }], 'compared at the old cost, rehashed at the new one')
      const [row] = await testDatabase(app).query(`select password_hash from auth_users where id = '${user.id}'`)
      t.match(row.password_hash, /^\$2b\$05\$/)
      t.equal(await bcrypt.compare(PASSWORD, String(row.password_hash)), true, 'the new hash is of the same password')
      calls.length = 0
      t.equal((await login()).statusCode, 200)
      t.same(calls, [{ op: 'compare', cost: 5 }], 'no second rehash')
      calls.length = 0
      t.equal((await app.inject({ method: 'POST', url: '/login', payload: { email: 'ghost@example.com', password: PASSWORD } })).statusCode, 401)
      t.same(calls, [{ op: 'compare', cost: 5 }], 'an unknown email is compared at the configured cost too')
    })

    t.test('a rehash never overwrites a password changed meanwhile, and that login then fails', async (t) => {
      const app = await buildApp({ bcryptRounds: 5 }, {}, dialect)
      t.teardown(() => app.close())
      const user = await app.authService.register('carol@example.com', PASSWORD)
      await app.authService.store.users.update(user.id, { passwordHash: bcrypt.hashSync(PASSWORD, 4) }, new Date())
      const bcryptHold = holdBcrypt(t)
      bcryptHold.hold('hash')
      const pending = app.inject({ method: 'POST', url: '/login', payload: { email: 'carol@example.com', password: PASSWORD } })
      await bcryptHold.held(1)
      const changed = bcrypt.hashSync('Changed-Meanwhile-42', 5)
      await app.authService.store.users.update(user.id, { passwordHash: changed }, new Date())
      bcryptHold.release()
      const res = await pending
      t.equal(res.statusCode, 401, 'the credentials it checked are gone')
      const [row] = await testDatabase(app).query(`select password_hash from auth_users where id = '${user.id}'`)
      t.equal(row.password_hash, changed, 'the change stands')
    })

    t.test('a failed login never rehashes', async (t) => {
      const app = await buildApp({ bcryptRounds: 5 }, {}, dialect)
      t.teardown(() => app.close())
      const user = await app.authService.register('bob@example.com', PASSWORD)
      const old = bcrypt.hashSync(PASSWORD, 4)
      await app.authService.store.users.update(user.id, { passwordHash: old }, new Date())
      const calls = holdBcrypt(t).calls
      t.equal((await app.inject({ method: 'POST', url: '/login', payload: { email: 'bob@example.com', password: 'Wrong-Pass-9' } })).statusCode, 401)
      t.same(calls, [{ op: 'compare', cost: 4 }])
      const [row] = await testDatabase(app).query(`select password_hash from auth_users where id = '${user.id}'`)
      t.equal(row.password_hash, old)
    })
  })
}
