CREATE TABLE `auth_action_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`token_hash` text NOT NULL,
	`purpose` text NOT NULL,
	`user_id` text NOT NULL,
	`email` text NOT NULL,
	`new_email` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_action_tokens_token_hash_unique` ON `auth_action_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `auth_action_tokens_user_idx` ON `auth_action_tokens` (`user_id`,`purpose`);--> statement-breakpoint
CREATE INDEX `auth_action_tokens_email_idx` ON `auth_action_tokens` (`email`);--> statement-breakpoint
CREATE INDEX `auth_action_tokens_expires_at_idx` ON `auth_action_tokens` (`expires_at`);--> statement-breakpoint
CREATE TABLE `auth_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`payload` text NOT NULL,
	`created_at` integer NOT NULL,
	`available_at` integer NOT NULL,
	`claimed_until` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text
);
--> statement-breakpoint
CREATE INDEX `auth_outbox_available_at_idx` ON `auth_outbox` (`available_at`);