-- expect: backward_incompatible
RENAME TABLE order_items TO line_items;
