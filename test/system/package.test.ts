/**
 * The package as an application gets it. `npm pack` (prepack builds dist/), then the
 * tarball installed into a temporary application beside fastify, drizzle-orm and better-sqlite3 at the
 * lockfile's versions (scripts off; the project's already-built native driver is copied in, so nothing
 * compiles), and:
 * (a) plain Node ESM and (b) CommonJS `require()` run register/login/me/logout;
 * (c) tsc passes under strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, skipLibCheck: false,
 *     with nodenext and with bundler resolution. drizzle-orm's own declarations do not pass skipLibCheck: false
 *     (an application that imports nothing but the drizzle-orm entry points the package's declarations import
 *     has them too): each must be one of that baseline's, and every other file must have none; the same
 *     without @fastify/jwt installed (an optional peer);
 * (d) esbuild bundles (ESM with splitting, and one CommonJS file) start, migrate and answer, with no
 *     drizzle/ folder anywhere near them;
 * (e) the same application on the oldest versions declared (fastify 5.0.0, drizzle-orm 0.44.0, @fastify/jwt
 *     10.0.0) type-checks and runs, with one copy of each (`npm ls`).
 * Each step's time is printed as a comment.
 */
import { execFileSync, type ExecFileSyncOptions, spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { plainRequest } from '../fixtures/http-client.ts'
import { tempDir } from '../fixtures/temp.ts'
import { storeCases } from '../../src/testing/index.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
// Installs and type-checks take a minute or two on a 2-core machine; tap's default is 30 s per file.
t.setTimeout(10 * 60_000)
const CONSUMER = join(ROOT, 'test/fixtures/consumer')
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')
const ESBUILD = join(ROOT, 'node_modules/esbuild/bin/esbuild')
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> }
const locked = (name: string): string => lock.packages[`node_modules/${name}`]!.version
const OLDEST = { fastify: '5.0.0', 'drizzle-orm': '0.44.0', '@fastify/jwt': '10.0.0' }

// `npm test` hands its own settings down as npm_* variables; the application's npm must not inherit them
// (only where packages come from).
const ENV = Object.fromEntries(Object.entries(process.env)
  .filter(([name]) => !name.startsWith('npm_') || name === 'npm_config_cache' || name === 'npm_config_registry'))

function run (command: string, args: string[], options: ExecFileSyncOptions & { cwd: string }): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000, env: ENV, ...options }) as string
}

function timed<T> (t: Test, label: string, step: () => T): T {
  const started = performance.now()
  const result = step()
  t.comment(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`)
  return result
}

/** A temporary application with the tarball and the given versions installed, natives copied from the project. */
function application (t: Test, dir: string, tarball: string, versions: Record<string, string>): string {
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({
    name: 'consumer',
    private: true,
    type: 'module',
    dependencies: {
      'fastify-drizzle-auth': `file:${tarball}`,
      fastify: locked('fastify'),
      'drizzle-orm': locked('drizzle-orm'),
      '@fastify/jwt': locked('@fastify/jwt'),
      'better-sqlite3': locked('better-sqlite3'),
      '@types/node': locked('@types/node'),
      '@types/better-sqlite3': locked('@types/better-sqlite3'),
      ...versions
    }
  }, null, 2))
  timed(t, `npm install (${Object.keys(versions).length === 0 ? 'lockfile versions' : 'oldest declared versions'})`, () =>
    run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: dir }))
  // The project's own build of the native driver, instead of compiling it again.
  const release = join(dir, 'node_modules/better-sqlite3/build/Release')
  mkdirSync(release, { recursive: true })
  copyFileSync(join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'), join(release, 'better_sqlite3.node'))
  for (const file of readdirSync(CONSUMER)) copyFileSync(join(CONSUMER, file), join(dir, file))
  return dir
}

/** The packages the declarations reachable from one .d.ts import (relative imports followed). */
function declarationPackages (entry: string): string[] {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const walk = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    const text = readFileSync(file, 'utf8')
    for (const [, specifier] of text.matchAll(/(?:from|import\()\s*'([^']+)'/g)) {
      if (specifier!.startsWith('.')) walk(resolve(dirname(file), specifier!.replace(/\.js$/, '.d.ts')))
      else packages.add(specifier!)
    }
    for (const [, types] of text.matchAll(/reference types="([^"]+)"/g)) packages.add(types!)
  }
  walk(join(ROOT, entry))
  return [...packages].sort()
}

const EXPECTED_FLOW = { register: 201, login: 200, me: 200, logout: 200, after: 401 }

/** tsc's errors for a project, split into drizzle-orm's own declarations and everything else. */
function typeErrors (cwd: string, project: string): { drizzle: string[], other: string[] } {
  let output = ''
  try {
    output = run(process.execPath, [TSC, '-p', project, '--pretty', 'false'], { cwd })
  } catch (err) {
    output = String((err as { stdout?: string }).stdout)
  }
  const errors = output.split('\n').filter((line) => / error TS\d+/.test(line))
  // Where and which error, without the message: TypeScript prints union members in check order.
  const key = (line: string): string => /^(.*?: error TS\d+)/.exec(line)![1]
  return {
    drizzle: errors.filter((line) => line.startsWith('node_modules/drizzle-orm/')).map(key).sort(),
    other: errors.filter((line) => !line.startsWith('node_modules/drizzle-orm/'))
  }
}

function baselineDrizzleErrors (dir: string, project: string): string[] {
  // The drizzle-orm entry points the package's declarations import, and nothing else.
  const entries = ['drizzle-orm', 'drizzle-orm/better-sqlite3', 'drizzle-orm/node-postgres', 'drizzle-orm/pg-core', 'drizzle-orm/sqlite-core']
  writeFileSync(join(dir, 'baseline.ts'), entries.map((entry, i) => `import * as m${i} from '${entry}'\nexport { m${i} }\n`).join(''))
  const config = JSON.parse(readFileSync(join(dir, project), 'utf8'))
  writeFileSync(join(dir, `baseline.${project}`), JSON.stringify({ ...config, files: ['baseline.ts'] }))
  return typeErrors(dir, `baseline.${project}`).drizzle
}

t.test('the packed tarball, installed and used like any Fastify plugin', async (t) => {
  const work = tempDir(t, 'fda-package-')
  const packed = timed(t, 'npm pack (prepack builds dist/)', () =>
    JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work, '--loglevel=error'], { cwd: ROOT })))[0] as {
    filename: string, size: number, unpackedSize: number, entryCount: number, files: Array<{ path: string }>
  }
  t.comment(`tarball: ${packed.entryCount} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`)
  const tops = [...new Set(packed.files.map((file) => file.path.split('/')[0]))].sort()
  t.same(tops, ['LICENSE', 'README.md', 'dist', 'drizzle', 'package.json'], 'only dist/, drizzle/, README, LICENSE, package.json')
  for (const expected of ['dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/db/sqlite/index.d.ts', 'dist/db/pg/index.js', 'dist/cli.js']) {
    t.ok(packed.files.some((file) => file.path === expected), `ships ${expected}`)
  }
  t.notOk(packed.files.some((file) => file.path.endsWith('.ts') && !file.path.endsWith('.d.ts')), 'no TypeScript sources')
  const declarations = packed.files.filter((file) => file.path.endsWith('.d.ts')).map((file) => readFileSync(join(ROOT, file.path), 'utf8'))
  const drizzleImports = new Set(declarations.flatMap((text) => [...text.matchAll(/from '(drizzle-orm[^']*)'/g)].map((match) => match[1])))
  t.same([...drizzleImports].sort(), ['drizzle-orm', 'drizzle-orm/better-sqlite3', 'drizzle-orm/node-postgres', 'drizzle-orm/pg-core', 'drizzle-orm/sqlite-core'],
    'the drizzle-orm entry points the declarations use (the baseline below imports the same)')
  t.same(declarationPackages('dist/index.d.ts'), ['@sinclair/typebox', 'drizzle-orm', 'fastify', 'openid-client'],
    'the root types need no driver, no @fastify/jwt and no @types/* (TypeBox and openid-client are dependencies with their own types: the options are declared with TypeBox, provider profiles come from openid-client\'s grants)')
  t.match(readFileSync(join(ROOT, 'dist/types.d.ts'), 'utf8'), /@ts-ignore[^\n]*\n(\/\/[^\n]*\n)*declare module '@fastify\/jwt'/,
    'the optional @fastify/jwt augmentation keeps its @ts-ignore in the declarations')
  t.notOk(declarationPackages('dist/db/sqlite/index.d.ts').some((name) => /^(pg|@types\/pg|drizzle-orm\/node-postgres)$/.test(name)), 'the SQLite types need nothing of PostgreSQL')
  t.notOk(declarationPackages('dist/db/pg/index.d.ts').some((name) => /better-sqlite3/.test(name)), 'the PostgreSQL types need nothing of SQLite')
  const tarball = join(work, packed.filename)

  const app = application(t, join(work, 'app'), tarball, {})
  // drizzle-orm's own declaration errors in this application, per tsconfig: what (c) measures, the later checks reuse.
  const drizzleBaselines = new Map<string, Set<string>>()

  t.test('(a) plain node, ESM', async (t) => {
    const out = timed(t, 'ESM script', () => run(process.execPath, ['app.mjs', join(app, 'esm.sqlite')], { cwd: app }))
    t.match(JSON.parse(out), { ...EXPECTED_FLOW, email: 'esm@example.com' })
  })

  t.test('the conformance kit from the packed tarball proves the shipped store and catches a broken one', async (t) => {
    const script = "import { testAuthStore } from 'fastify-drizzle-auth/testing'; import { sqliteStore } from 'fastify-drizzle-auth/sqlite'; " +
      'const passed = await testAuthStore(() => sqliteStore(":memory:")); ' +
      'const broken = () => { const store = sqliteStore(":memory:"); store.sessions.revoke = async () => undefined; return store }; ' +
      'const failed = await testAuthStore(broken).then(() => [], (err) => err.errors.length); ' +
      'console.log(JSON.stringify({ passed: passed.length, failed }))'
    const out = timed(t, 'testAuthStore', () => run(process.execPath, ['--input-type=module', '-e', script], { cwd: app }))
    t.same(JSON.parse(out), { passed: storeCases.length, failed: 4 }, 'every case passes on sqliteStore; a store that never revokes fails the four that revoke')
  })

  t.test('a driver that is not installed (pg, here) is a ConfigurationError that says what to install', async (t) => {
    const script = "import Fastify from 'fastify'; import auth from 'fastify-drizzle-auth'; const app = Fastify(); " +
      "app.register(auth, { database: 'postgres://postgres@127.0.0.1:5432/test', secret: 'x'.repeat(32) }); " +
      'app.ready().then(() => console.log("started"), (err) => console.log(err.name + ": " + err.message))'
    t.match(run(process.execPath, ['--input-type=module', '-e', script], { cwd: app }), /ConfigurationError: .*needs the 'pg' package: npm install pg/)
    const cli = spawnSync(join(app, 'node_modules/.bin/fastify-drizzle-auth'), ['migrate', '-d', 'postgres://postgres@127.0.0.1:5432/test'], { cwd: app, encoding: 'utf8', env: ENV })
    t.equal(cli.status, 2, 'the migrate command: exit 2')
    t.match(cli.stderr, /npm install pg/)
  })

  t.test("the README's first app, as written, against the packed tarball: register, login, the guarded route", async (t) => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('## A first app'), readme.indexOf('## Install'))
    const code = /```ts\n([\s\S]*?)```/.exec(section)![1]
    t.ok(code.split('\n').length <= 40, 'the first app is under 40 lines')
    writeFileSync(join(app, 'server.mjs'), code)
    const server = spawn(process.execPath, ['server.mjs'], {
      cwd: app, env: { ...ENV, PORT: '0', AUTH_SECRET: 'first-app-secret-that-is-32-bytes-long' }, stdio: ['ignore', 'pipe', 'pipe']
    })
    t.teardown(() => { server.kill('SIGKILL') })
    const base = await new Promise<string>((resolve, reject) => {
      let out = ''
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
        if (match !== null) resolve(match[1])
      })
      server.once('exit', (code) => reject(new Error(`server.mjs exited with ${code}: ${out}`)))
    })
    const credentials = { email: 'alice@example.com', password: 'SecurePass123!' }
    t.equal((await plainRequest(`${base}/register`, 'POST', credentials)).status, 201)
    const login = await plainRequest(`${base}/login`, 'POST', credentials)
    t.equal(login.status, 200)
    const hello = await plainRequest(`${base}/hello`, 'GET', undefined, { authorization: `Bearer ${login.body.access_token}` })
    t.same([hello.status, hello.body], [200, { hello: 'alice@example.com' }])
    t.equal((await plainRequest(`${base}/hello`, 'GET')).status, 401, 'and anonymous requests are refused')
    t.ok(existsSync(join(app, 'data/auth.sqlite')), 'the database file was made with its tables')
  })

  t.test('the SQLite table helpers need no driver; opening a database without one says what to install', async (t) => {
    const driver = join(app, 'node_modules/better-sqlite3')
    const aside = join(app, 'node_modules/.better-sqlite3-aside')
    renameSync(driver, aside)
    try {
      const script = "import { authUserColumns, sqliteStore } from 'fastify-drizzle-auth/sqlite'; import { sqliteTable, text } from 'drizzle-orm/sqlite-core'; " +
        "const users = sqliteTable('app_users', { ...authUserColumns(), nickname: text('nickname') }); console.log(Object.keys(users).sort().join(',')); " +
        "try { sqliteStore(':memory:') } catch (err) { console.log(err.name + ': ' + err.message) }"
      const out = run(process.execPath, ['--input-type=module', '-e', script], { cwd: app })
      t.match(out, /email,.*nickname/, 'authUserColumns() from fastify-drizzle-auth/sqlite, with no better-sqlite3 installed')
      t.match(out, /ConfigurationError: .*needs the 'better-sqlite3' package: npm install better-sqlite3/)
    } finally {
      renameSync(aside, driver)
    }
  })

  t.test('(b) CommonJS require()', async (t) => {
    const out = timed(t, 'CommonJS script', () => run(process.execPath, ['app.cjs', join(app, 'cjs.sqlite')], { cwd: app }))
    t.match(JSON.parse(out), { ...EXPECTED_FLOW, email: 'cjs@example.com' })
  })

  t.test('(c) tsc under strict flags, nodenext and bundler', async (t) => {
    for (const project of ['tsconfig.nodenext.json', 'tsconfig.bundler.json']) {
      const config = JSON.parse(readFileSync(join(app, project), 'utf8')).compilerOptions
      t.match(config, { strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false })
      const errors = timed(t, `tsc ${project}`, () => typeErrors(app, project))
      t.same(errors.other, [], `${project}: no error in the application or in any declaration but drizzle-orm's`)
      const baseline = new Set(baselineDrizzleErrors(app, project))
      drizzleBaselines.set(project, baseline)
      t.same(errors.drizzle.filter((error) => !baseline.has(error)), [], `${project}: drizzle-orm's own errors (${errors.drizzle.length}) are all among those of an app that uses drizzle alone`)
    }
  })

  t.test('(c) tsc without @fastify/jwt installed: request.user is still typed, and nothing is missing', async (t) => {
    const jwt = join(app, 'node_modules/@fastify/jwt')
    const aside = join(app, 'node_modules/@fastify/.jwt-aside')
    renameSync(jwt, aside)
    try {
      // nodenext only: the bundler resolution of the same declarations is checked with @fastify/jwt above.
      const project = 'tsconfig.nodenext.json'
      const config = JSON.parse(readFileSync(join(app, project), 'utf8'))
      writeFileSync(join(app, `without-jwt.${project}`), JSON.stringify({ ...config, files: ['app-without-jwt.ts'] }))
      const errors = timed(t, `tsc ${project} without @fastify/jwt`, () => typeErrors(app, `without-jwt.${project}`))
      t.same(errors.other, [], `${project}: no error in the application or in the plugin's declarations`)
      t.same(errors.drizzle.filter((error) => !drizzleBaselines.get(project)!.has(error)), [], `${project}: drizzle-orm's errors are its own`)
      const script = "import Fastify from 'fastify'; import auth from 'fastify-drizzle-auth'; const app = Fastify(); " +
        "app.register(auth, { database: ':memory:', secret: 'x'.repeat(32), routes: true }); " +
        "app.get('/who', async (request) => ({ anonymous: request.user.isAnonymous })); " +
        "await app.ready(); console.log((await app.inject('/who')).body); await app.close()"
      t.same(JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], { cwd: app })), { anonymous: true }, 'and it runs without it')
    } finally {
      renameSync(aside, jwt)
    }
  })

  t.test('(d) esbuild bundles, ESM and CommonJS, start, migrate and answer', async (t) => {
    const common = ['bundle-entry.ts', '--bundle', '--platform=node', '--target=node20', '--log-level=error',
      '--external:better-sqlite3', '--external:bcrypt', '--external:pg']
    const esm = join(app, 'bundle-esm')
    timed(t, 'esbuild (ESM, splitting)', () => run(ESBUILD, [...common, '--format=esm', '--splitting', `--outdir=${esm}`,
      "--banner:js=import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"], { cwd: app }))
    const cjs = join(app, 'bundle-cjs')
    timed(t, 'esbuild (CommonJS, one file)', () => run(ESBUILD, [...common, '--format=cjs', `--outfile=${join(cjs, 'app.cjs')}`], { cwd: app }))
    for (const [name, file] of [['ESM', join(esm, 'bundle-entry.js')], ['CommonJS', join(cjs, 'app.cjs')]]) {
      t.notOk(existsSync(join(dirname(file), 'drizzle')), `${name}: no migrations folder beside the bundle`)
      const out = timed(t, `bundled app (${name})`, () => run(process.execPath, [file, join(dirname(file), 'bundled.sqlite')], { cwd: dirname(file) }))
      t.match(JSON.parse(out), { ...EXPECTED_FLOW, email: 'consumer@example.com', hello: 'consumer@example.com' }, `${name}: the flow`)
    }
  })

  t.test('the migrate command from the application root', async (t) => {
    const bin = join(app, 'node_modules/.bin/fastify-drizzle-auth')
    const out = timed(t, 'fastify-drizzle-auth migrate', () => run(bin, ['migrate', '--database', join(app, 'cli.sqlite')], { cwd: app }))
    const shipped = readdirSync(new URL('../../drizzle/sqlite/', import.meta.url)).filter((f) => f.endsWith('.sql')).length
    t.match(out, `${shipped} migration(s) applied, ${shipped} in all`)
  })

  t.test('(e) the oldest declared fastify, drizzle-orm and @fastify/jwt: one copy each, types and a run', async (t) => {
    const old = application(t, join(work, 'oldest'), tarball, OLDEST)
    const listed = JSON.parse(run('npm', ['ls', 'fastify', 'drizzle-orm', '@fastify/jwt', '--all', '--json'], { cwd: old }))
    const versions = (name: string): string[] => {
      const found = new Set<string>()
      const walk = (deps: Record<string, { version: string, dependencies?: Record<string, unknown> }> = {}): void => {
        for (const [dep, info] of Object.entries(deps)) {
          if (dep === name) found.add(info.version)
          walk(info.dependencies as never)
        }
      }
      walk(listed.dependencies)
      return [...found]
    }
    for (const [name, version] of Object.entries(OLDEST)) t.same(versions(name), [version], `${name}: only ${version}`)
    for (const project of ['tsconfig.nodenext.json', 'tsconfig.bundler.json']) {
      const errors = timed(t, `tsc ${project} (oldest)`, () => typeErrors(old, project))
      t.same(errors.other, [], `${project}: no error outside drizzle-orm's own declarations`)
      const baseline = new Set(baselineDrizzleErrors(old, project))
      t.same(errors.drizzle.filter((error) => !baseline.has(error)), [], `${project}: drizzle-orm's errors (${errors.drizzle.length}) are its own`)
    }
    const out = run(process.execPath, ['app.mjs', join(old, 'esm.sqlite')], { cwd: old })
    t.match(JSON.parse(out), { ...EXPECTED_FLOW, email: 'esm@example.com' }, 'and it runs on them')
  })
})
