CREATE OR REPLACE FUNCTION fastify_drizzle_auth_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('fastify_drizzle_auth_changes', ''); RETURN NULL; END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER "auth_sessions_fda_notify" AFTER UPDATE OF "id", "user_id", "expires_at", "revoked_at" OR DELETE OR TRUNCATE ON "auth_sessions" FOR EACH STATEMENT EXECUTE FUNCTION fastify_drizzle_auth_notify();
--> statement-breakpoint
CREATE OR REPLACE TRIGGER "auth_users_fda_notify" AFTER UPDATE OR DELETE OR TRUNCATE ON "auth_users" FOR EACH STATEMENT EXECUTE FUNCTION fastify_drizzle_auth_notify();
