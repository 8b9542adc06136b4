import { packageRequire } from '../lib/package-require.ts'
import { Worker } from 'node:worker_threads'

/**
 * How the hashing threads are scheduled. `normal` (the default): the same priority as the event loop, so on a
 * busy or single core a login still gets its share and finishes. `idle` (Linux): nice 19 and SCHED_IDLE, so
 * hashing never delays a request that only checks a token, but anything else running on the core (another
 * process, a flood of cheap requests) can starve it, and logins then wait for as long as the core stays busy.
 */
export type HashThreads = 'normal' | 'idle'

export interface ThreadPriority {
  /** The threads' nice value (Linux, where it is a per-thread attribute). */
  nice: number
  /** SCHED_IDLE as well, where util-linux's chrt is installed. */
  idle: boolean
}

/** What each mode means; bench/hash-floods.ts also measures other values here. */
export const THREAD_PRIORITIES: Record<HashThreads, ThreadPriority> = {
  normal: { nice: 0, idle: false },
  idle: { nice: 19, idle: true }
}

/**
 * bcrypt on threads of its own (`HashThreads` says at which priority). A worker hashes one job at a time with
 * bcrypt's synchronous calls (its asynchronous ones would hand the work to libuv's shared pool, which the
 * application's file and DNS calls use too). Workers start on demand, up to the largest `hashConcurrency`
 * asked for, and never keep the process alive while idle.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const bcrypt = require(workerData.bcrypt)
// Elsewhere than Linux a nice value applies to the whole process, the event loop included: left alone there.
const { nice, idle } = process.platform === 'linux' ? workerData.priority : { nice: 0, idle: false }
if (nice !== 0) {
  try { require('node:os').setPriority(nice) } catch {}
}
if (idle) {
  // A waking request then preempts a hashing thread at once, where under nice 19 alone it may wait out the
  // rest of the hash's time slice. Node has no call for it.
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
  threads: HashThreads
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
  readonly #modes = new WeakMap<Worker, HashThreads>()

  constructor (source = WORKER_SOURCE) {
    this.#source = source
  }

  /** Lets up to `count` hashes run at once (the pool only grows). */
  reserve (count: number): void {
    this.#limit = Math.max(this.#limit, count)
  }

  hash (data: string, rounds: number, threads: HashThreads = 'normal'): Promise<string> {
    return this.#run('hash', data, rounds, threads)
  }

  compare (data: string, encrypted: string, threads: HashThreads = 'normal'): Promise<boolean> {
    return this.#run('compare', data, encrypted, threads)
  }

  #run<T>(op: Job['op'], data: string, arg: string | number, threads: HashThreads): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, data, arg, threads, resolve: resolve as Job['resolve'], reject })
      this.#dispatch()
    })
  }

  #dispatch (): void {
    while (this.#queue.length > 0) {
      const job = this.#queue[0]
      const worker = this.#worker(job.threads)
      if (worker === undefined) return
      this.#queue.shift()
      this.#give(worker, job)
    }
  }

  /**
   * An idle thread of that priority, or a new one while under the limit. A thread's priority cannot be raised
   * again without privileges, so one idle at the other priority is ended to make room.
   */
  #worker (threads: HashThreads): Worker | undefined {
    const same = this.#idle.findIndex((worker) => this.#modes.get(worker) === threads)
    if (same !== -1) return this.#idle.splice(same, 1)[0]
    if (this.#idle.length + this.#busy.size >= this.#limit) {
      const other = this.#idle.shift()
      if (other === undefined) return undefined
      void other.terminate()
    }
    return this.#spawn(threads)
  }

  #spawn (threads: HashThreads): Worker {
    const priority = THREAD_PRIORITIES[threads]
    const worker = new Worker(this.#source, {
      eval: true,
      workerData: { bcrypt: bcryptPath, priority },
      // The host's loaders (tsx, a test runner's) are not needed for this plain CommonJS source.
      execArgv: [],
      stdout: false,
      stderr: false
    })
    this.#modes.set(worker, threads)
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
