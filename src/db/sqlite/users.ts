import { eq } from 'drizzle-orm'
import type { NewUserRecord, UserPatch, UserRecord, UserStore } from '../store.ts'
import { userInsertError } from '../constraint-violation.ts'
import type { users } from './schema.ts'
import type { PreparedStatements } from './statements.ts'
import type { SqliteDatabase } from './store.ts'

export class SqliteUserStore implements UserStore {
  readonly #db: SqliteDatabase
  readonly #users: typeof users
  readonly #q: PreparedStatements

  constructor (db: SqliteDatabase, usersTable: typeof users, q: PreparedStatements) {
    this.#db = db
    this.#users = usersTable
    this.#q = q
  }

  async create (values: NewUserRecord): Promise<UserRecord> {
    try {
      return this.#db.insert(this.#users).values(values as typeof users.$inferInsert).returning().get()
    } catch (err) {
      throw userInsertError(err)
    }
  }

  async findByEmail (email: string): Promise<UserRecord | undefined> {
    return this.#q.userByEmail.get({ email })
  }

  async findById (id: string): Promise<UserRecord | undefined> {
    return this.#q.userById.get({ id })
  }

  async update (id: string, patch: UserPatch, now: Date): Promise<UserRecord | undefined> {
    return this.#db.update(this.#users).set({ ...patch, updatedAt: now }).where(eq(this.#users.id, id)).returning().get()
  }

  async replacePasswordHash (userId: string, oldHash: string, newHash: string, now: Date): Promise<boolean> {
    return this.#q.replacePasswordHash.run({ userId, oldHash, newHash, nowMs: now.getTime() }).changes > 0
  }
}
