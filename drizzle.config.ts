import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/sqlite/schema.ts',
  out: './drizzle/sqlite',
  dbCredentials: { url: process.env.DATABASE_PATH ?? './data/auth.sqlite' },
  migrations: { table: '__fastify_drizzle_auth_migrations' }
})
