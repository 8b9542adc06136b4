import Database from 'better-sqlite3'
import { join } from 'node:path'
import t from 'tap'
import { openSqlite } from '../src/db/sqlite/index.ts'
import { tempDir } from './fixtures/temp.ts'

t.test('switching a new file to WAL while another connection writes: retried until the busy timeout, then refused cleanly', async (t) => {
  const path = join(tempDir(t, 'fda-open-'), 'new.sqlite')
  const writer = new Database(path)
  t.teardown(() => { if (writer.open) writer.close() })
  writer.exec('create table app (id integer primary key)')
  // A write lock held: the switch (which must upgrade its own read lock) is refused at once by SQLite.
  writer.exec('begin immediate')
  writer.exec('insert into app values (1)')
  t.throws(() => openSqlite(path, { busyTimeoutMs: 50, backgroundCheckpoints: false }), { code: 'SQLITE_BUSY' })
  writer.exec('commit')
  const opened = openSqlite(path, { backgroundCheckpoints: false })
  t.teardown(() => opened.close())
  t.equal(opened.db.$client.pragma('journal_mode', { simple: true }), 'wal')
  t.same(opened.db.$client.prepare('select id from app').all(), [{ id: 1 }], 'the other connection\'s commit is there')
})

t.test('the switch to WAL succeeds once a writer in another thread lets go within the busy timeout', async (t) => {
  const { Worker } = await import('node:worker_threads')
  const path = join(tempDir(t, 'fda-open-'), 'new.sqlite')
  // A writer on its own thread: it holds the write lock until its timer commits, while this thread is blocked
  // inside openSqlite (which waits synchronously between tries).
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const Database = require('better-sqlite3')
    const db = new Database(workerData)
    db.exec('create table app (id integer primary key)')
    db.exec('begin immediate')
    db.exec('insert into app values (1)')
    parentPort.postMessage('locked')
    setTimeout(() => { db.exec('commit'); db.close() }, 100)
  `, { eval: true, workerData: path })
  t.teardown(() => worker.terminate())
  await new Promise((resolve) => worker.once('message', resolve))
  const opened = openSqlite(path, { busyTimeoutMs: 5000, backgroundCheckpoints: false })
  t.teardown(() => opened.close())
  t.equal(opened.db.$client.pragma('journal_mode', { simple: true }), 'wal', 'retried until the writer let go')
  t.same(opened.db.$client.prepare('select id from app').all(), [{ id: 1 }])
})
