-- expect: safe
-- holdout: labelled before turnout ran on it
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY orders_user_id_key ON orders(user_id);

-- +goose Down
DROP INDEX CONCURRENTLY orders_user_id_key;
