-- expect: lock_risk
ALTER TABLE products ADD FULLTEXT INDEX ft_products_title (title);
