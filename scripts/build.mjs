// Builds dist/: tsc writes ESM JavaScript, declarations and source maps; the declarations' relative imports
// then name the emitted .js files (tsc rewrites them in JavaScript only), so an application's tsc resolves them
// under any moduleResolution without allowImportingTsExtensions.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')
rmSync(dist, { recursive: true, force: true })

const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (tsc.status !== 0) process.exit(tsc.status ?? 1)

const relativeTs = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g
for (const entry of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!entry.endsWith('.d.ts')) continue
  const file = join(dist, entry)
  const text = readFileSync(file, 'utf8')
  const rewritten = text.replace(relativeTs, '$1$2.js$3')
  if (rewritten !== text) writeFileSync(file, rewritten)
}

// @fastify/jwt is an optional peer: where it is not installed, its augmentation in types.d.ts would name a module
// that cannot be found. tsc drops comments from declarations, so the @ts-ignore that src/types.ts carries is put
// back here; where @fastify/jwt is installed the augmentation applies as written.
const types = join(dist, 'types.d.ts')
const augmentation = "declare module '@fastify/jwt' {"
const declarations = readFileSync(types, 'utf8')
if (!declarations.includes(augmentation)) {
  console.error(`build: ${augmentation} not found in dist/types.d.ts`)
  process.exit(1)
}
writeFileSync(types, declarations.replace(augmentation, `// @ts-ignore: @fastify/jwt is an optional peer\n${augmentation}`))
