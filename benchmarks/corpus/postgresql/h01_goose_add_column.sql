-- expect: safe
-- holdout: labelled before turnout ran on it
-- +goose Up
-- +goose StatementBegin
ALTER TABLE orders ADD COLUMN published_at timestamptz;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE orders DROP COLUMN published_at;
-- +goose StatementEnd
