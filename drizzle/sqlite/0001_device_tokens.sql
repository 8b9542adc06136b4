CREATE TABLE `auth_device_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`failures` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `auth_device_tokens_user_id_idx` ON `auth_device_tokens` (`user_id`);--> statement-breakpoint
CREATE INDEX `auth_device_tokens_expires_at_idx` ON `auth_device_tokens` (`expires_at`);