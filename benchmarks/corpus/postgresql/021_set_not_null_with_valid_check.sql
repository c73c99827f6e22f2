-- expect: safe
-- orders_note_not_null (CHECK note IS NOT NULL) was added NOT VALID and validated in earlier
-- releases, so PostgreSQL 12+ skips the scan and no new restriction appears.
ALTER TABLE orders ALTER COLUMN note SET NOT NULL;
ALTER TABLE orders DROP CONSTRAINT orders_note_not_null;
