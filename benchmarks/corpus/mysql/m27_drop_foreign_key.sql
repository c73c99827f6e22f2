-- expect: safe
-- relabelled (issue 14): dropping a constraint only lets more writes through; the running version keeps working
ALTER TABLE orders DROP FOREIGN KEY fk_orders_user;
