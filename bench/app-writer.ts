/**
 * The application's own writes (scenario b): a second connection to the same SQLite file committing 100 rows
 * a second to a table of the application's, as an embedded-database application does all day.
 * `tsx bench/app-writer.ts <database>`; stops on SIGTERM.
 */
import Database from 'better-sqlite3'

const db = new Database(process.argv[2])
db.pragma('busy_timeout = 5000')
db.pragma('journal_mode = WAL')
db.exec('create table if not exists app_events (id integer primary key, at integer not null, body text not null)')
const insert = db.prepare('insert into app_events (at, body) values (?, ?)')
let written = 0
const timer = setInterval(() => { insert.run(Date.now(), 'event'); written++ }, 10)
process.stdout.write('writing\n')
process.once('SIGTERM', () => { clearInterval(timer); db.close(); process.stdout.write(`${written}\n`); process.exit(0) })
