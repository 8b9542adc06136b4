CREATE TABLE "auth_action_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"purpose" text NOT NULL,
	"user_id" text NOT NULL,
	"email" text NOT NULL,
	"new_email" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"used_at" timestamp (3) with time zone,
	CONSTRAINT "auth_action_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "auth_outbox" (
	"id" text PRIMARY KEY NOT NULL,
	"payload" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"available_at" timestamp (3) with time zone NOT NULL,
	"claimed_until" timestamp (3) with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text
);
--> statement-breakpoint
CREATE INDEX "auth_action_tokens_user_idx" ON "auth_action_tokens" USING btree ("user_id","purpose");--> statement-breakpoint
CREATE INDEX "auth_action_tokens_email_idx" ON "auth_action_tokens" USING btree ("email");--> statement-breakpoint
CREATE INDEX "auth_action_tokens_expires_at_idx" ON "auth_action_tokens" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "auth_outbox_available_at_idx" ON "auth_outbox" USING btree ("available_at");