-- expect: safe
-- holdout: labelled before turnout ran on it
INSERT INTO accounts (name, plan)
SELECT DISTINCT 'orphan ' || u.id, 'free'
FROM users u LEFT JOIN accounts a ON a.id = u.account_id
WHERE a.id IS NULL;
