-- expect: backward_incompatible
-- In place with concurrent DML, but the running version may still write NULL phones.
ALTER TABLE users MODIFY COLUMN phone VARCHAR(20) NOT NULL;
