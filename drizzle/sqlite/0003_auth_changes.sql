CREATE TABLE IF NOT EXISTS `auth_changes` (
	`id` integer PRIMARY KEY NOT NULL,
	`version` integer NOT NULL
);
--> statement-breakpoint
INSERT OR IGNORE INTO `auth_changes` (`id`, `version`) VALUES (1, 0);
