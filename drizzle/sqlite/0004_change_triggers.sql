CREATE TRIGGER IF NOT EXISTS "auth_sessions_fda_updated" AFTER UPDATE OF "id", "user_id", "expires_at", "revoked_at" ON "auth_sessions" BEGIN update "auth_changes" set version = version + 1 where id = 1; END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS "auth_sessions_fda_deleted" AFTER DELETE ON "auth_sessions" BEGIN update "auth_changes" set version = version + 1 where id = 1; END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS "auth_sessions_fda_replaced" BEFORE INSERT ON "auth_sessions" WHEN EXISTS (SELECT 1 FROM "auth_sessions" WHERE "id" = new."id") BEGIN update "auth_changes" set version = version + 1 where id = 1; END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS "auth_users_fda_updated" AFTER UPDATE ON "auth_users" BEGIN update "auth_changes" set version = version + 1 where id = 1; END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS "auth_users_fda_deleted" AFTER DELETE ON "auth_users" BEGIN update "auth_changes" set version = version + 1 where id = 1; END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS "auth_users_fda_inserted" AFTER INSERT ON "auth_users" BEGIN update "auth_changes" set version = version + 1 where id = 1; END;
