-- expect: safe
/* Release 42: e-mail verification (expand). */
SET SESSION lock_wait_timeout = 5;
ALTER TABLE `users`
  ADD COLUMN `email_verified_at` DATETIME NULL,   -- nullable: INSTANT
  ADD COLUMN `verification_token` VARCHAR(64) NULL;
CREATE INDEX `idx_users_verification_token` ON `users` (`verification_token`);
