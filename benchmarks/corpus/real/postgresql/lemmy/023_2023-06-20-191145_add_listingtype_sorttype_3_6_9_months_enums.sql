-- source: LemmyNet/lemmy@439734dd638a migrations/2023-06-20-191145_add_listingtype_sorttype_3_6_9_months_enums/up.sql
-- expect: safe
-- reason: ALTER TYPE ... ADD VALUE in a transaction is allowed on PG 12+
-- Update the enums
ALTER TYPE sort_type_enum
    ADD VALUE 'TopThreeMonths';

ALTER TYPE sort_type_enum
    ADD VALUE 'TopSixMonths';

ALTER TYPE sort_type_enum
    ADD VALUE 'TopNineMonths';
