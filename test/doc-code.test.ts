/**
 * Every code block marked as TypeScript in the README and the docs pages compiles against the package as it
 * is now (its imports of `fastify-drizzle-auth` resolve to the sources), under strict settings: an example
 * that no longer matches the API fails here.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]

/** The TypeScript blocks of a page, each with the line it starts on. */
function typescriptBlocks (page: string): Array<{ line: number, code: string }> {
  const blocks: Array<{ line: number, code: string }> = []
  const lines = readFileSync(join(ROOT, page), 'utf8').split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue
    const start = i + 1
    while (++i < lines.length && !lines[i].startsWith('```'));
    blocks.push({ line: start + 1, code: lines.slice(start, i).join('\n') })
  }
  return blocks
}

t.test('the TypeScript blocks of the README and the docs compile against the package', async (t) => {
  const dir = mkdtempSync(join(ROOT, 'test/.doc-blocks-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const files = new Map<string, string>()
  for (const page of PAGES) {
    for (const { line, code } of typescriptBlocks(page)) {
      const file = join(dir, `${page.replace(/\W/g, '_')}_${line}.ts`)
      // Each block is a module of its own (so blocks may declare the same names and use top-level await).
      writeFileSync(file, `${code}\nexport {}\n`)
      files.set(file, `${page}:${line}`)
    }
  }
  t.ok(files.size >= 10, `${files.size} blocks found`)
  const src = (path: string) => [join(ROOT, 'src', path)]
  const program = ts.createProgram([...files.keys()], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules/@types')],
    paths: {
      'fastify-drizzle-auth': src('index.ts'),
      'fastify-drizzle-auth/sqlite': src('db/sqlite/index.ts'),
      'fastify-drizzle-auth/pg': src('db/pg/index.ts'),
      'fastify-drizzle-auth/testing': src('testing/index.ts')
    }
  })
  const problems = ts.getPreEmitDiagnostics(program)
    .filter((d) => d.file !== undefined && files.has(d.file.fileName))
    .map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start!)
      const [page, first] = files.get(d.file!.fileName)!.split(':')
      return `${page}:${Number(first) + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
    })
  t.same(problems, [], 'no block has a type error')
})
