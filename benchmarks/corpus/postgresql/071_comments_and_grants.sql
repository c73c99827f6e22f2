-- expect: safe
COMMENT ON COLUMN users.email IS 'Login e-mail, unique per account';
GRANT SELECT ON orders, order_items TO reporting;
