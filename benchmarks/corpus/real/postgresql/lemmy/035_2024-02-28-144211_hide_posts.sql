-- source: LemmyNet/lemmy@439734dd638a migrations/2024-02-28-144211_hide_posts/up.sql
-- expect: safe
-- reason: new table
CREATE TABLE post_hide (
    post_id int REFERENCES post ON UPDATE CASCADE ON DELETE CASCADE NOT NULL,
    person_id int REFERENCES person ON UPDATE CASCADE ON DELETE CASCADE NOT NULL,
    published timestamp with time zone NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, post_id)
);
