-- expect: safe
CREATE TABLE coupons (
    code        text PRIMARY KEY,
    account_id  bigint NOT NULL,
    percent_off int NOT NULL CHECK (percent_off BETWEEN 1 AND 100)
);
CREATE INDEX coupons_account_id_idx ON coupons (account_id);
ALTER TABLE coupons ADD CONSTRAINT coupons_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);
