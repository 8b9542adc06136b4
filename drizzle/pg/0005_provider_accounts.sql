CREATE TABLE "auth_accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"provider" text NOT NULL,
	"subject" text NOT NULL,
	"email" text,
	"email_verified" boolean DEFAULT false NOT NULL,
	"tokens" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	"last_login_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "auth_oauth_flows" (
	"id" text PRIMARY KEY NOT NULL,
	"state_hash" text NOT NULL,
	"provider" text NOT NULL,
	"code_verifier" text NOT NULL,
	"nonce" text NOT NULL,
	"redirect_to" text NOT NULL,
	"link_user_id" text,
	"client_challenge" text,
	"created_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"used_at" timestamp (3) with time zone,
	"code_hash" text,
	"code_user_id" text,
	"code_account_id" text,
	"code_profile" text,
	"code_expires_at" timestamp (3) with time zone,
	"code_used_at" timestamp (3) with time zone,
	CONSTRAINT "auth_oauth_flows_state_hash_unique" UNIQUE("state_hash"),
	CONSTRAINT "auth_oauth_flows_code_hash_unique" UNIQUE("code_hash")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "auth_accounts_provider_subject_idx" ON "auth_accounts" USING btree ("provider","subject");--> statement-breakpoint
CREATE UNIQUE INDEX "auth_accounts_user_provider_idx" ON "auth_accounts" USING btree ("user_id","provider");--> statement-breakpoint
CREATE INDEX "auth_oauth_flows_expires_at_idx" ON "auth_oauth_flows" USING btree ("expires_at");