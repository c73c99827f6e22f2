-- expect: lock_risk
-- "Batched", but the whole DO block is one transaction: every row stays locked until it ends.
DO $$
BEGIN
    LOOP
        UPDATE users SET login = email
         WHERE id IN (SELECT id FROM users WHERE login IS NULL LIMIT 1000);
        EXIT WHEN NOT FOUND;
    END LOOP;
END $$;
