-- source: go-shiori/shiori@585ea341aa59 internal/database/migrations/mysql/0001_initial_account.up.sql
-- expect: safe
-- reason: new table
CREATE TABLE IF NOT EXISTS account(
		id       INT(11)        NOT NULL AUTO_INCREMENT,
		username VARCHAR(250)   NOT NULL,
		password BINARY(80)     NOT NULL,
		owner    TINYINT(1)     NOT NULL DEFAULT '0',
		config   JSON           NOT NULL DEFAULT ('{}'),
		PRIMARY KEY (id),
		UNIQUE KEY account_username_UNIQUE (username))
		CHARACTER SET utf8mb4;
