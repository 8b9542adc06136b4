import { and, eq } from 'drizzle-orm'
import type { NewUserRecord, UserPatch, UserRecord, UserStore } from '../store.ts'
import { userInsertError } from '../constraint-violation.ts'
import type { PgContext } from './context.ts'
import type { users } from './schema.ts'

export class PgUserStore implements UserStore {
  readonly #c: PgContext

  constructor (context: PgContext) {
    this.#c = context
  }

  async create (values: NewUserRecord): Promise<UserRecord> {
    await this.#c.ready()
    try {
      const [row] = await this.#c.db.insert(this.#c.users).values(values as typeof users.$inferInsert).returning()
      return row
    } catch (err) {
      throw userInsertError(err)
    }
  }

  async findByEmail (email: string): Promise<UserRecord | undefined> {
    await this.#c.ready()
    const [row] = await this.#c.db.select().from(this.#c.users).where(eq(this.#c.users.email, email))
    return row
  }

  async findById (id: string): Promise<UserRecord | undefined> {
    await this.#c.ready()
    const [row] = await this.#c.db.select().from(this.#c.users).where(eq(this.#c.users.id, id))
    return row
  }

  async update (id: string, patch: UserPatch, now: Date): Promise<UserRecord | undefined> {
    await this.#c.ready()
    const [row] = await this.#c.db.update(this.#c.users).set({ ...patch, updatedAt: now }).where(eq(this.#c.users.id, id)).returning()
    return row
  }

  async replacePasswordHash (userId: string, oldHash: string, newHash: string, now: Date): Promise<boolean> {
    await this.#c.ready()
    const users = this.#c.users
    const result = await this.#c.db.update(users).set({ passwordHash: newHash, updatedAt: now })
      .where(and(eq(users.id, userId), eq(users.passwordHash, oldHash)))
    return Number(result.rowCount) > 0
  }
}
