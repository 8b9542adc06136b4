/**
 * The source stays in small pieces: no file of src/ over 300 lines, and no function of src/db/ (the hot
 * path and every statement) over 60. Generated files (the embedded migrations) are left out.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const SRC = fileURLToPath(new URL('../src/', import.meta.url))
const GENERATED = /\/migrations\.ts$/

function sourceFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') && !GENERATED.test(path) ? [path] : []
  })
}

/** Every function with a body in `text`, as [first line, line count]. */
export function functionLengths (file: string, text: string): Array<[number, number]> {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const found: Array<[number, number]> = []
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const last = source.getLineAndCharacterOfPosition(node.end).line
      found.push([first + 1, last - first + 1])
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

t.test('no file in src/ over 300 lines', async (t) => {
  const files = sourceFiles(SRC)
  t.ok(files.length > 50, 'the files were found')
  const long = files.map((file) => [relative(SRC, file), readFileSync(file, 'utf8').split('\n').length - 1] as const).filter(([, lines]) => lines > 300)
  t.same(long, [], 'split what grew past 300 lines by what each part holds')
})

t.test('no function in src/db/ over 60 lines', async (t) => {
  const long: string[] = []
  let counted = 0
  for (const file of sourceFiles(join(SRC, 'db'))) {
    for (const [line, lines] of functionLengths(file, readFileSync(file, 'utf8'))) {
      counted++
      if (lines > 60) long.push(`${relative(SRC, file)}:${line} (${lines} lines)`)
    }
  }
  t.ok(counted > 100, 'the functions were found')
  t.same(long, [])
  const sample = 'function f () {\n' + '  g()\n'.repeat(60) + '}\n'
  t.same(functionLengths('sample.ts', sample), [[1, 62]], 'a 62-line function is measured as such')
})
