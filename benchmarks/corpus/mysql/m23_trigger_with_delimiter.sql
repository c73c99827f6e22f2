-- expect: safe
-- Dual-write login -> username while both versions run.
ALTER TABLE users ADD COLUMN username VARCHAR(64) NULL;

DELIMITER //
CREATE TRIGGER users_sync_username BEFORE INSERT ON users
FOR EACH ROW
BEGIN
  IF NEW.username IS NULL THEN
    SET NEW.username = NEW.login;
  END IF;
END//
DELIMITER ;
