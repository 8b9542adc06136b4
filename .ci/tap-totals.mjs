// Runs tap, passing its output through, then prints its totals as the plain closing line
// "N passed, N failed" (", N skipped" when some were), and exits with tap's own status.
import { spawn } from 'node:child_process'

const child = spawn('npx', ['tap', ...process.argv.slice(2)], { stdio: ['inherit', 'pipe', 'inherit'] })
let totals = null
let pending = ''
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  pending += chunk.toString()
  const lines = pending.split('\n')
  pending = lines.pop()
  for (const line of lines) {
    const match = /^# \{ total: (\d+)(.*)\}\s*$/.exec(line)
    if (match !== null) {
      const count = (name) => Number(new RegExp(`${name}: (\\d+)`).exec(match[2])?.[1] ?? 0)
      totals = { pass: count('pass'), fail: count('fail'), skip: count('skip') + count('todo') }
    }
  }
})
child.on('exit', (code) => {
  if (totals === null) {
    console.log('0 passed, 1 failed')
  } else {
    console.log(`${totals.pass} passed, ${totals.fail} failed${totals.skip > 0 ? `, ${totals.skip} skipped` : ''}`)
  }
  process.exit(code ?? 1)
})
