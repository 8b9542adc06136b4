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
