-- expect: safe
INSERT INTO accounts (name, plan) VALUES ('system', 'internal')
ON CONFLICT DO NOTHING;
