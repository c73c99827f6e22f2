-- The schema the running version uses (pg_dump --schema-only, trimmed). Corpus files run against it.
CREATE SCHEMA billing;
CREATE SCHEMA legacy;
CREATE DOMAIN email_address AS text;
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped');

CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    name varchar(100) NOT NULL,
    plan text NOT NULL DEFAULT 'free',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    email varchar(255) NOT NULL,
    full_name varchar(100),
    login text,
    phone varchar(20),
    age integer,
    status text DEFAULT 'active',
    last_seen_at timestamp,
    settings json,
    legacy_id integer,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL,
    total numeric(10,2) NOT NULL,
    currency char(3) NOT NULL DEFAULT 'EUR',
    status text NOT NULL,
    note text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_note_not_null CHECK (note IS NOT NULL),
    CONSTRAINT orders_total_check CHECK (total >= 0)
);
CREATE INDEX orders_status_idx ON orders (status);

CREATE TABLE order_items (
    id bigserial PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES orders (id),
    sku varchar(64) NOT NULL,
    qty integer NOT NULL,
    price numeric(10,2)
);

CREATE TABLE products (
    id serial PRIMARY KEY,
    sku varchar(64) NOT NULL,
    title text NOT NULL,
    price_cents integer NOT NULL,
    description varchar(500)
);

CREATE TABLE sessions (token text PRIMARY KEY, user_id bigint, expires_at timestamptz);
CREATE TABLE page_views (user_id bigint, path text, at timestamptz);
CREATE TABLE room_bookings (id bigserial PRIMARY KEY, room_id int NOT NULL, during tstzrange NOT NULL);

CREATE TABLE events (id bigint NOT NULL, kind text, payload jsonb, occurred_at timestamptz NOT NULL)
    PARTITION BY RANGE (occurred_at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE billing.invoices (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    amount_cents integer NOT NULL,
    "DueDate" date,
    status text,
    pdf_url text
);

CREATE TABLE "Audit Log" (id bigserial PRIMARY KEY, "actorId" bigint, action text, at timestamptz);

CREATE SEQUENCE invoice_number_seq;
CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';
CREATE MATERIALIZED VIEW daily_revenue AS
    SELECT date_trunc('day', created_at) AS day, sum(total) AS revenue FROM orders GROUP BY 1;
CREATE UNIQUE INDEX daily_revenue_day ON daily_revenue (day);
