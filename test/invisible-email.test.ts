/** An email holding an invisible or formatting character is refused (422 invalid_email). */
import t from 'tap'
import { InvalidEmailError } from '../src/index.ts'
import { PASSWORD, buildApp, testDatabase } from './fixtures/app.ts'

const INVISIBLE = {
  'zero-width space': '\u200B',
  'zero-width non-joiner': '\u200C',
  'zero-width joiner': '\u200D',
  'soft hyphen': '\u00AD',
  'word joiner': '\u2060',
  'byte order mark': '\uFEFF',
  'right-to-left override': '\u202E',
  'left-to-right embedding': '\u202A',
  'first strong isolate': '\u2068',
  'Mongolian vowel separator': '\u180E',
  'variation selector 16': '\uFE0F',
  'combining grapheme joiner': '\u034F',
  'Hangul filler': '\u3164',
  'tag space': '\u{E0020}'
}

t.test('each invisible character makes the registration a 422 invalid_email, and writes nothing', async (t) => {
  const app = await buildApp({ registrationRateLimit: false })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/register', payload: { email: 'alice@example.com', password: PASSWORD } })).statusCode, 201)
  for (const [name, char] of Object.entries(INVISIBLE)) {
    for (const email of [`al${char}ice@example.com`, `alice@exa${char}mple.com`, `${char}alice@example.com`]) {
      const res = await app.inject({ method: 'POST', url: '/register', payload: { email, password: PASSWORD } })
      t.equal(res.statusCode, 422, `${name} at ${email.indexOf(char)}`)
      t.same(res.json(), { detail: 'Email must not contain invisible or formatting characters (zero-width, soft hyphen, bidi controls)', code: 'invalid_email' })
    }
  }
  t.same(await testDatabase(app).query('select email from auth_users'), [{ email: 'alice@example.com' }], 'only the first account exists')
})

t.test('the service refuses them too; visible non-ASCII addresses are still accepted', async (t) => {
  const app = await buildApp({ registrationRateLimit: false })
  t.teardown(() => app.close())
  await t.rejects(app.authService.register('bo\u200Bb@example.com', PASSWORD), InvalidEmailError)
  const user = await app.authService.register('jürgen@bücher.example', PASSWORD)
  t.equal(user.email, 'jürgen@bücher.example')
})
