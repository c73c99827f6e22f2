-- expect: backward_incompatible
ALTER TABLE `users` CHANGE COLUMN `login` `username` VARCHAR(64) NULL;
