/**
 * The error path in a minified bundle: esbuild --minify renames every function, Fastify's default error handler
 * included, so the plugin must know that handler by identity. The error-path tests are bundled with the plugin's
 * sources and Fastify, minified, and run as they are; every one of them must still pass.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { tempDir } from '../fixtures/temp.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
t.setTimeout(120_000)

t.test('the error-path tests pass against a minified bundle of the plugin and Fastify', async (t) => {
  // Inside the checkout, so the bundle's external packages (tap, the native drivers) resolve from it.
  const dir = tempDir(t, '.fda-minified-', join(ROOT, 'node_modules'))
  const bundle = join(dir, 'error-path.mjs')
  const built = spawnSync(join(ROOT, 'node_modules/esbuild/bin/esbuild'), [join(ROOT, 'test/error-path.test.ts'),
    '--bundle', '--minify', '--platform=node', '--target=node20', '--format=esm', '--log-level=error', `--outfile=${bundle}`,
    '--external:tap', '--external:better-sqlite3', '--external:bcrypt', '--external:pg',
    "--banner:js=import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"], { encoding: 'utf8' })
  t.equal(built.status, 0, built.stderr)
  // A plain Node process: none of the test runner's loaders or settings.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_OPTIONS' && !name.startsWith('TAP')))
  const run = spawnSync(process.execPath, [bundle], { cwd: dir, encoding: 'utf8', timeout: 100_000, env })
  t.equal(run.status, 0, `the bundled error-path tests exit 0\n${run.stdout.split('\n').filter((line) => /not ok/.test(line)).join('\n')}`)
  // Every top-level test of the file (its own plan says how many) ran and passed.
  const expected = Number(/^1\.\.(\d+)$/m.exec(run.stdout)?.[1] ?? 0)
  const passed = run.stdout.split('\n').filter((line) => /^ok \d+ - /.test(line)).length
  t.ok(expected > 0, 'the bundle ran its tests')
  t.equal(passed, expected, `${passed} of ${expected} top-level tests passed`)
  t.notOk(/^not ok/m.test(run.stdout), 'none failed')
})
