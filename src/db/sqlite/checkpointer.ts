import { packageRequire } from '../../lib/package-require.ts'
import { Worker } from 'node:worker_threads'

/**
 * Moves WAL checkpoints off the event loop. By default SQLite checkpoints inside the commit that crosses
 * 1,000 WAL pages: that request then copies every page changed since the last checkpoint into the database
 * file and waits for fsync, and on large tables (pages changed at random across the file) that is most of the
 * cost a write grows by as the tables grow. Here a thread of its own, with its own connection, runs a PASSIVE
 * checkpoint (it never blocks readers or writers) every `intervalMs` while writes are heavy, and every
 * `QUIET_EVERY` intervals while they are light; the application's connection keeps
 * `wal_autocheckpoint` only as a safety net, at `fallbackPages`, in case this thread stops or falls behind.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.path, { fileMustExist: true })
const checkpoint = db.prepare('pragma wal_checkpoint(PASSIVE)')
// The WAL's length at the last checkpoint: a short one means few writes, so the next can wait a while.
let log = Infinity
let skipped = 0
const timer = setInterval(() => {
  if (log < workerData.busyFrames && ++skipped < workerData.quietEvery) return
  skipped = 0
  try { log = checkpoint.get().log } catch {}
}, workerData.intervalMs)
parentPort.once('message', () => {
  clearInterval(timer)
  try { checkpoint.run() } catch {}
  db.close()
  parentPort.close()
})
`

// Every completed checkpoint makes the next commit start the WAL over, and that commit syncs the WAL header
// (synchronous=NORMAL): an fsync on the event loop. While writes are few (under BUSY_FRAMES pages since the last
// checkpoint) checkpoints come only every QUIET_EVERY intervals, so such syncs stay rare; under heavy writes,
// every interval, which keeps the WAL short.
const BUSY_FRAMES = 1000
const QUIET_EVERY = 8

export interface Checkpointer {
  /** Runs a last checkpoint and closes the thread's connection; resolves once the thread has ended. */
  stop: () => Promise<void>
}

export function startCheckpointer (path: string, intervalMs = 250): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { driver: packageRequire.resolve('better-sqlite3'), path, intervalMs, busyFrames: BUSY_FRAMES, quietEvery: QUIET_EVERY },
    execArgv: [],
    stdout: false,
    stderr: false
  })
  // Never keeps the process alive, and a thread that fails to start leaves the safety net in charge.
  worker.unref()
  worker.on('error', () => {})
  const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  let stopping: Promise<void> | undefined
  return {
    stop: () => {
      stopping ??= (async () => {
        // Held alive while it finishes, or a process with nothing else to do would exit with close() pending.
        worker.ref()
        worker.postMessage('stop')
        await ended
      })()
      return stopping
    }
  }
}
