-- Costs that must follow the work, not the size of a list.

-- Verification of a replica against the Leader's digest is O(list size) on both sides, so it
-- runs after full resyncs and otherwise at most daily, not after every incremental run: an
-- incremental run's cost must follow the changes, not the size of the list.
ALTER TABLE replicas ADD COLUMN verified_at TIMESTAMPTZ;

-- A photo added or removed is a change of its dossier, unless the dossier was already written
-- by this same transaction (a new dossier with its first photo, a Subscriber applying a page):
-- it then already carries this transaction's revision and time, and touching it again would
-- only write one more row version and its index entries.
CREATE OR REPLACE FUNCTION photos_touch_dossier() RETURNS trigger AS $$
BEGIN
    UPDATE dossiers SET modified_at = now()
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.dossier_id ELSE NEW.dossier_id END
       AND xmin <> pg_current_xact_id()::xid;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
