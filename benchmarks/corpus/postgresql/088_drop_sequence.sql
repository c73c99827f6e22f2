-- expect: backward_incompatible
DROP SEQUENCE IF EXISTS invoice_number_seq;
