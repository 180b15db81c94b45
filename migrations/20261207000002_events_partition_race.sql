-- Two sessions making the same day's partition at once (a camera's first event of the day
-- and the housekeeping's start-up pass) both saw it missing: the check after the lock read
-- the session's cached catalogue, which an advisory lock does not refresh, so the second
-- CREATE failed with "already exists" and the camera's post with it. After the lock the
-- check now reads pg_class itself (a fresh snapshot of committed tables), and the CREATE
-- says IF NOT EXISTS besides.
CREATE OR REPLACE FUNCTION events_partition(day DATE) RETURNS void AS $$
DECLARE
    name TEXT := 'events_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(dossier_lock_class('events_partitions'), 0);
    IF NOT EXISTS (
        SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relname = name AND n.nspname = current_schema()
    ) THEN
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
            name,
            day::timestamp AT TIME ZONE 'UTC',
            (day + 1)::timestamp AT TIME ZONE 'UTC');
    END IF;
END;
$$ LANGUAGE plpgsql;
