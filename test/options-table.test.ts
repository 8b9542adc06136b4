/**
 * The options table in docs/options.md is generated from the options' one declaration: a stale table (an
 * option added, renamed or redocumented without `npm run docs:options`) fails here.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { OPTIONS_PAGE, optionsTable, withGeneratedTable } from '../scripts/options-table.ts'

t.test('docs/options.md holds the table the declaration generates', async (t) => {
  const page = readFileSync(OPTIONS_PAGE, 'utf8')
  t.equal(page, withGeneratedTable(page), 'stale: run npm run docs:options')
  const table = optionsTable()
  for (const name of ['database', 'loginRateLimit.windowSeconds', 'mailRateLimit.accountWindowSeconds', 'cookies.names.refresh', 'routes.bodyLimit', 'clock']) {
    t.match(table, `| \`${name}\` |`, `${name} has its row`)
  }
  t.match(table, "| `tokenTransport` | `'bearer'` | plugin only: ", 'plugin-only options say so')
  t.throws(() => withGeneratedTable('# Options\n'), /no .* markers/, 'a page without the markers is refused, not silently left alone')
})
