import { copyFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { tempDir } from './fixtures/temp.ts'
import { migrate, openSqlite } from '../src/db/sqlite/index.ts'
import { startCheckpointer } from '../src/db/sqlite/checkpointer.ts'
import { buildApp, registerAndLogin } from './fixtures/app.ts'

// WAL checkpoints of a file the plugin opens run on a thread of their own, not inside a request's commit.

/** The users in the main database file alone: what a checkpoint has copied there, ignoring the WAL. */
function usersInMainFile (dir: string, path: string): number {
  const copy = join(dir, `main-only-${Date.now()}.sqlite`)
  copyFileSync(path, copy)
  const db = new Database(copy, { readonly: true })
  try {
    const exists = db.prepare("select count(*) from sqlite_master where name = 'auth_users'").pluck().get() as number
    return exists === 0 ? 0 : db.prepare('select count(*) from auth_users').pluck().get() as number
  } finally {
    db.close()
  }
}

async function waitFor (check: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (check()) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return check()
}

t.test('committed rows reach the database file by the background checkpoint, not by a request\'s commit', async (t) => {
  const dir = tempDir(t, 'fda-checkpoint-')
  const path = join(dir, 'auth.sqlite')
  const { db, close } = openSqlite(path)
  t.teardown(close)
  t.equal(db.$client.pragma('wal_autocheckpoint', { simple: true }), 10_000, 'the connection checkpoints only as a safety net')
  migrate(db)
  const insert = db.$client.prepare('insert into auth_users (id, email) values (?, ?)')
  for (let i = 0; i < 50; i++) insert.run(`u${i}`, `u${i}@example.com`)
  t.ok(await waitFor(() => usersInMainFile(dir, path) === 50), 'all 50 rows in the main file within moments')
  // Few writes since: the next checkpoint may wait a couple of intervals longer, but it comes.
  for (let i = 50; i < 60; i++) insert.run(`u${i}`, `u${i}@example.com`)
  t.ok(await waitFor(() => usersInMainFile(dir, path) === 60, 5000), 'and a trickle of writes after it within seconds')
})

t.test('closing the app ends the checkpoint thread: the last connection closes and the WAL file is removed', async (t) => {
  const dir = tempDir(t, 'fda-checkpoint-')
  const path = join(dir, 'auth.sqlite')
  const app = await buildApp({ database: path })
  await registerAndLogin(app)
  t.ok(existsSync(`${path}-wal`), 'a WAL file while open')
  await app.close()
  t.notOk(existsSync(`${path}-wal`), 'no WAL file once every connection, the checkpointer\'s included, has closed')
  t.equal(usersInMainFile(dir, path), 1)
})

t.test('the safety net: without the background checkpointer, the connection itself checkpoints once the WAL holds 10,000 pages', async (t) => {
  const dir = tempDir(t, 'fda-checkpoint-')
  const path = join(dir, 'auth.sqlite')
  const { db, close } = openSqlite(path, { backgroundCheckpoints: false })
  t.teardown(close)
  const client = db.$client
  client.exec('create table app_blobs (body blob not null)')
  const insert = client.prepare('insert into app_blobs (body) values (?)')
  const page = Buffer.alloc(3000, 7)
  const inMainFile = () => {
    const copy = join(dir, `main-only-${Date.now()}.sqlite`)
    copyFileSync(path, copy)
    const reader = new Database(copy, { readonly: true })
    try {
      return reader.prepare("select count(*) from sqlite_master where name = 'app_blobs'").pluck().get() === 0
        ? 0
        : reader.prepare('select count(*) from app_blobs').pluck().get() as number
    } finally {
      reader.close()
    }
  }
  // Well under 10,000 pages: everything is still in the WAL only.
  client.transaction(() => { for (let i = 0; i < 1000; i++) insert.run(page) })()
  t.equal(inMainFile(), 0, 'no checkpoint yet')
  // Past 10,000 pages: the commit that crosses the line checkpoints.
  for (let batch = 0; batch < 11; batch++) client.transaction(() => { for (let i = 0; i < 1000; i++) insert.run(page) })()
  t.ok(inMainFile() >= 10_000, 'the rows reached the main file without any checkpointer thread')
})

t.test('a checkpointer that cannot open its file leaves the safety net in charge and stops cleanly', async (t) => {
  const dir = tempDir(t, 'fda-checkpoint-')
  const checkpointer = startCheckpointer(join(dir, 'missing.sqlite'))
  await checkpointer.stop()
  await checkpointer.stop()
  t.notOk(existsSync(join(dir, 'missing.sqlite')), 'the file is not created by the checkpointer')
})
