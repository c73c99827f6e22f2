-- expect: destructive
DROP TABLE IF EXISTS `page_views`;
