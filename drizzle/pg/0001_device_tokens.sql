CREATE TABLE "auth_device_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"last_used_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"revoked_at" timestamp (3) with time zone,
	"failures" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "auth_device_tokens_user_id_idx" ON "auth_device_tokens" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "auth_device_tokens_expires_at_idx" ON "auth_device_tokens" USING btree ("expires_at");