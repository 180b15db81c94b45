-- The product's advisory locks by name, so that Rust, SQL and tests say the same thing.
--
-- PostgreSQL keeps two key spaces apart: one bigint key, or two integer keys. A replica's run
-- claim uses the bigint space with the replica's full id (`pg_try_advisory_lock(id)`), so every
-- other lock of the product lives in the two-integer space, under a class named here.
CREATE FUNCTION dossier_lock_class(name TEXT) RETURNS INTEGER AS $$
    SELECT CASE name
        -- Writers of revisions hold it shared until they commit; the Leader's feed takes it
        -- exclusively for an instant to read its watermark.
        WHEN 'feed_writers' THEN 7414
    END
$$ LANGUAGE sql IMMUTABLE STRICT;

CREATE OR REPLACE FUNCTION sync_next_revision() RETURNS BIGINT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(dossier_lock_class('feed_writers'), 0);
    RETURN nextval('sync_revision');
END;
$$ LANGUAGE plpgsql;
