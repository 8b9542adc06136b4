import type { ChildProcess } from 'node:child_process'

/**
 * The address a bench child prints once it listens (`listening http://...`, or what `ready` captures); rejects,
 * with what the child printed, if it exits first.
 */
export async function listening (child: ChildProcess, ready = /listening (http:\/\/\S+)/): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = ready.exec(out)
      if (match !== null) resolve(match[1] ?? '')
    })
    child.once('exit', (code) => reject(new Error(`${child.spawnargs.slice(-1)[0]} exited with ${code}: ${out}`)))
  })
}
