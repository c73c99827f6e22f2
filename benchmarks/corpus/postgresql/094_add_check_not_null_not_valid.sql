-- expect: backward_incompatible
-- Step 1 of making phone required: rejects NULL writes from now on, even NOT VALID.
ALTER TABLE users ADD CONSTRAINT users_phone_not_null CHECK (phone IS NOT NULL) NOT VALID;
