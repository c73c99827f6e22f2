-- expect: safe
-- Add a nickname; old code never selects it.
ALTER TABLE users ADD COLUMN nickname text;
