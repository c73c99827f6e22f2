-- expect: safe
-- relabelled (issue 14): dropping a constraint only lets more writes through; the running version keeps working
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_total_check;
