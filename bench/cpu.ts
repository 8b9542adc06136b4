import { readFileSync } from 'node:fs'

/** CPU time (utime + stime, in clock ticks of 1/100 s) of a process or thread, from its /proc stat file. */
export function cpuTicksOf (path: string): number {
  const stat = readFileSync(path, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12]) // fields 14 and 15 of the full line
}

export function cpuTicks (pid: number): number {
  return cpuTicksOf(`/proc/${pid}/stat`)
}

/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s. */
export const CLK_TCK = 100
