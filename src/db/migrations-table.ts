/** The plugin's own bookkeeping table, so its migrations never collide with the application's. */
export const MIGRATIONS_TABLE = '__fastify_drizzle_auth_migrations'
/**
 * Where that table lives on PostgreSQL (the same in drizzle.config.ts): Drizzle's own schema for its
 * bookkeeping, which an application's `drizzle-kit push` (schemaFilter ['public']) leaves alone.
 */
export const MIGRATIONS_SCHEMA = 'drizzle'
/** Where versions before 0.2 kept it; migrate() moves it from there. */
export const LEGACY_MIGRATIONS_SCHEMA = 'public'
/** How often a migration that lost a race with another process is tried again. */
export const MIGRATION_ATTEMPTS = 5
