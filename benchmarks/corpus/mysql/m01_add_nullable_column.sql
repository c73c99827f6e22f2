-- expect: safe
ALTER TABLE `users` ADD COLUMN `nickname` VARCHAR(50) NULL;
