import { packageRequire } from '../db/package-require.ts'
import { Worker } from 'node:worker_threads'

/**
 * bcrypt on threads of its own, at the lowest CPU priority on Linux (nice 19, a per-thread attribute there,
 * and the SCHED_IDLE policy when `chrt` is installed): when the cores are busy hashing, the event loop still
 * gets one the moment it wakes, so a burst of logins never delays the requests that only check a token. Hashing runs at full speed whenever
 * nothing else wants the CPU. Elsewhere (where nice would apply to the whole process) the priority is left alone.
 *
 * A worker hashes one job at a time with bcrypt's synchronous calls (its asynchronous ones would hand the work
 * to libuv's shared pool, at normal priority). Workers start on demand, up to the largest `hashConcurrency`
 * asked for, and never keep the process alive while idle.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const bcrypt = require(workerData.bcrypt)
if (workerData.lowPriority) {
  try { require('node:os').setPriority(19) } catch {}
  // SCHED_IDLE as well where util-linux's chrt is installed: a waking request then preempts a hashing thread at
  // once, where under nice 19 alone it may wait out the rest of the hash's time slice. Node has no call for it.
  for (const chrt of ['/usr/bin/chrt', '/bin/chrt']) {
    try {
      const tid = require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()
      require('node:child_process').execFileSync(chrt, ['--idle', '-p', '0', tid], { stdio: 'ignore', timeout: 2000 })
      break
    } catch {}
  }
}
parentPort.on('message', (job) => {
  try {
    const value = job.op === 'hash' ? bcrypt.hashSync(job.data, job.arg) : bcrypt.compareSync(job.data, job.arg)
    parentPort.postMessage({ value })
  } catch (err) {
    parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) })
  }
})
`

interface Job {
  op: 'hash' | 'compare'
  data: string
  arg: string | number
  resolve: (value: never) => void
  reject: (err: Error) => void
}

const bcryptPath = packageRequire.resolve('bcrypt')

export class BcryptWorkers {
  readonly #source: string
  #limit = 1
  readonly #idle: Worker[] = []
  readonly #queue: Job[] = []
  readonly #busy = new Map<Worker, Job>()

  constructor (source = WORKER_SOURCE) {
    this.#source = source
  }

  /** Lets up to `count` hashes run at once (the pool only grows). */
  reserve (count: number): void {
    this.#limit = Math.max(this.#limit, count)
  }

  hash (data: string, rounds: number): Promise<string> {
    return this.#run('hash', data, rounds)
  }

  compare (data: string, encrypted: string): Promise<boolean> {
    return this.#run('compare', data, encrypted)
  }

  #run<T>(op: Job['op'], data: string, arg: string | number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, data, arg, resolve: resolve as Job['resolve'], reject })
      this.#dispatch()
    })
  }

  #dispatch (): void {
    while (this.#queue.length > 0) {
      // Every live worker is idle or busy: a new one is given its job as soon as it is made.
      const live = this.#idle.length + this.#busy.size
      const worker = this.#idle.pop() ?? (live < this.#limit ? this.#spawn() : undefined)
      if (worker === undefined) return
      this.#give(worker, this.#queue.shift()!)
    }
  }

  #spawn (): Worker {
    const worker = new Worker(this.#source, {
      eval: true,
      workerData: { bcrypt: bcryptPath, lowPriority: process.platform === 'linux' },
      // The host's loaders (tsx, a test runner's) are not needed for this plain CommonJS source.
      execArgv: [],
      stdout: false,
      stderr: false
    })
    let failure: Error | undefined
    worker.on('message', (message: { value?: unknown, error?: string }) => {
      const job = this.#busy.get(worker)!
      this.#busy.delete(worker)
      worker.unref()
      this.#idle.push(worker)
      if (message.error === undefined) job.resolve(message.value as never)
      else job.reject(new Error(message.error))
      this.#dispatch()
    })
    // 'exit' follows 'error'; the job in hand (if any) is failed there, and a later job starts a new worker.
    worker.on('error', (err) => { failure = err })
    worker.on('exit', (code) => {
      const idle = this.#idle.indexOf(worker)
      if (idle !== -1) this.#idle.splice(idle, 1)
      const job = this.#busy.get(worker)
      this.#busy.delete(worker)
      job?.reject(failure ?? new Error(`bcrypt worker stopped (exit code ${code})`))
      this.#dispatch()
    })
    return worker
  }

  #give (worker: Worker, job: Job): void {
    this.#busy.set(worker, job)
    worker.ref()
    worker.postMessage({ op: job.op, data: job.data, arg: job.arg })
  }
}

/** The process's hashing threads, shared by every AuthService in it. */
export const bcryptWorkers = new BcryptWorkers()
