import { defineConfig } from 'drizzle-kit'

// One config for both dialects: a postgres:// DATABASE_URL (or DRIZZLE_DIALECT=postgresql) selects PostgreSQL.
const url = process.env.DATABASE_URL ?? ''
const postgres = process.env.DRIZZLE_DIALECT === 'postgresql' || /^postgres(ql)?:\/\//.test(url)
const migrations = { table: '__fastify_drizzle_auth_migrations', schema: 'drizzle' }

export default postgres
  ? defineConfig({
    dialect: 'postgresql',
    schema: './src/db/pg/schema.ts',
    out: './drizzle/pg',
    dbCredentials: { url: url === '' ? 'postgres://postgres@127.0.0.1:5432/test' : url },
    migrations
  })
  : defineConfig({
    dialect: 'sqlite',
    schema: './src/db/sqlite/schema.ts',
    out: './drizzle/sqlite',
    dbCredentials: { url: process.env.DATABASE_PATH ?? './data/auth.sqlite' },
    migrations: { table: migrations.table }
  })
