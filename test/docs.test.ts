/**
 * The documentation holds together: the README stays a front door (at most 350 lines), every relative link
 * of the README, CONTRIBUTING.md and docs/ names a file that exists and, when it names a heading, a heading
 * of that file; no page names a tracker ticket instead of the behaviour.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const PAGES = ['README.md', 'CONTRIBUTING.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf (heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replaceAll(' ', '-')
}

function anchors (file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '')
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1]!)))
}

/** Every broken relative link of one page, said in words. */
function brokenLinks (page: string): string[] {
  const file = join(ROOT, page)
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '')
  const broken: string[] = []
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target!)) continue
    const [path, anchor] = target!.split('#') as [string, string | undefined]
    const linked = path === '' ? file : resolve(dirname(file), path)
    if (!existsSync(linked)) {
      broken.push(`${page}: ${target} (no file ${relative(ROOT, linked)})`)
    } else if (anchor !== undefined && linked.endsWith('.md') && !anchors(linked).has(anchor)) {
      broken.push(`${page}: ${target} (no heading #${anchor} in ${relative(ROOT, linked)})`)
    }
  }
  return broken
}

t.test('the README is the front door: at most 350 lines, its first section the first app', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const lines = readme.split('\n').length
  t.ok(lines <= 350, `README.md has ${lines} lines`)
  t.match(readme, /^# fastify-drizzle-auth\n[\s\S]*?\n## A first app\n/, 'the first section is the first app')
  for (const page of PAGES.filter((name) => name.startsWith('docs/'))) t.match(readme, `](${page})`, `the README links ${page}`)
})

t.test('every relative link of the documentation resolves, anchors included', async (t) => {
  t.ok(PAGES.length >= 10, `${PAGES.length} pages read`)
  t.same(PAGES.flatMap(brokenLinks), [])
})

t.test('the link check sees a missing file and a missing heading', async (t) => {
  t.equal(anchorOf('Running on PostgreSQL / scaling out'), 'running-on-postgresql--scaling-out')
  t.equal(anchorOf('Your own @fastify/jwt'), 'your-own-fastifyjwt')
  t.notOk(anchors(join(ROOT, 'docs/guards.md')).has('no-such-heading'))
  t.ok(anchors(join(ROOT, 'docs/guards.md')).has('guards'))
})

t.test('no page names a tracker ticket instead of the behaviour', async (t) => {
  for (const page of PAGES) t.notMatch(readFileSync(join(ROOT, page), 'utf8'), /\b(issue|item)s? \d+/i, page)
})

t.test('the security table names tests that exist, in either tier', async (t) => {
  const page = readFileSync(join(ROOT, 'docs/security.md'), 'utf8')
  const rows = page.slice(page.indexOf('## Security')).split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| threat') && line.split('|').length === 5)
  t.ok(rows.length >= 20, `${rows.length} threats`)
  for (const row of rows) {
    const tests = [...row.split('|')[3].matchAll(/`([a-z0-9-]+)`/g)].map((match) => match[1])
    t.ok(tests.length > 0, `a test for: ${row.split('|')[1].trim().slice(0, 60)}`)
    for (const name of tests) {
      t.ok(existsSync(join(ROOT, 'test', `${name}.test.ts`)) || existsSync(join(ROOT, 'test/system', `${name}.test.ts`)), `${name} exists`)
    }
  }
})
