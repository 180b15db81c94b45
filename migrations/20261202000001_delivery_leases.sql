-- A webhook delivery's attempt is claimed by a lease of its sending process, apart from its
-- schedule: the attempt is counted when it ends, not when it is claimed, and the lease names
-- its holder, so that a delivery whose process died (kill -9, a crash) is taken up again on
-- its schedule at once instead of after the lease runs out, and counts no attempt its receiver
-- never saw. A process proves it is alive by holding the advisory lock
-- (webhook_sender, leased_by) on a connection of its own for its life.
ALTER TABLE webhook_deliveries
    ADD COLUMN leased_by    INTEGER,
    ADD COLUMN leased_until TIMESTAMPTZ;

CREATE OR REPLACE FUNCTION dossier_lock_class(name TEXT) RETURNS INTEGER AS $$
    SELECT CASE name
        -- Writers of revisions hold it shared until they commit; the Leader's feed takes it
        -- exclusively for an instant to read its watermark.
        WHEN 'feed_writers' THEN 7414
        -- Creating or dropping a day's partition of events.
        WHEN 'events_partitions' THEN 7415
        -- A webhook sender's life: (webhook_sender, its lease owner id).
        WHEN 'webhook_sender' THEN 7416
    END
$$ LANGUAGE sql IMMUTABLE STRICT;
