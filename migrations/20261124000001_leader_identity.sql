-- The Leader stays the source of truth after every fault, a backup restore included.

-- Who this installation is: created once, by the migration that makes the database, and kept by
-- a dump and its restore (it is data), so that a Subscriber can tell "the same Leader, restored"
-- from "another installation at the same URL" and an installation can recognise itself.
CREATE TABLE installation (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    id         TEXT NOT NULL DEFAULT gen_random_uuid()::text,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO installation DEFAULT VALUES;

-- The Leader's epoch: a Subscriber's cursor means something only within the history it was
-- taken in. Whenever that history may have gone back, the epoch changes and every Subscriber
-- whose cursor belongs to an older epoch resyncs from scratch.
--
-- How the Leader notices, without anything outside its database: `fingerprint` says where the
-- rows physically live, and `high_water` is the highest revision it has handed out.
-- * A dump restored (into a new database, or with --clean into the same one) re-creates every
--   object, so the revision sequence has a new OID: the stored fingerprint no longer matches.
-- * A base backup restored by archive recovery (or a standby promoted) ends on a new timeline.
-- * A cluster re-created by initdb has a new system identifier (pg_upgrade too: one resync).
-- * A sequence moved backwards (setval, RESTART) is below the high water mark.
-- What it cannot notice alone, a base backup restored by crash recovery on the same timeline,
-- the Subscriber notices when its cursor is ahead of the Leader's counter, and the daily digest
-- comparison catches whatever is left.
ALTER TABLE sync_feed_state
    ADD COLUMN epoch            TEXT NOT NULL DEFAULT gen_random_uuid()::text,
    ADD COLUMN epoch_started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN epoch_reason     TEXT NOT NULL DEFAULT 'installed',
    ADD COLUMN fingerprint      TEXT,
    ADD COLUMN high_water       BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION sync_fingerprint() RETURNS TEXT AS $$
    SELECT concat_ws('/', (SELECT system_identifier FROM pg_control_system()),
                          (SELECT timeline_id FROM pg_control_checkpoint()),
                          (SELECT oid FROM pg_database WHERE datname = current_database()),
                          'sync_revision'::regclass::oid)
$$ LANGUAGE sql STABLE;

-- The current epoch, after checking that the history has not gone back (and starting a new
-- epoch if it may have). Called at start-up, and with every watermark a Subscriber is given.
CREATE FUNCTION sync_current_epoch() RETURNS TEXT AS $$
DECLARE
    state   sync_feed_state;
    current TEXT := sync_fingerprint();
    counter BIGINT;
    reason  TEXT;
BEGIN
    -- The row first, then the counter: a high water mark another call has committed was read
    -- from the counter before, so the counter read after it cannot be below it.
    SELECT * INTO state FROM sync_feed_state;
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO counter FROM sync_revision;
    IF state.fingerprint IS NOT NULL AND state.fingerprint = current
       AND counter >= state.high_water THEN
        IF counter > state.high_water THEN
            UPDATE sync_feed_state SET high_water = greatest(high_water, counter);
        END IF;
        RETURN state.epoch;
    END IF;
    SELECT * INTO state FROM sync_feed_state FOR UPDATE;
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO counter FROM sync_revision;
    IF state.fingerprint IS NULL THEN
        -- The first check of a new database: its history starts here.
        UPDATE sync_feed_state SET fingerprint = current, high_water = counter;
        RETURN state.epoch;
    END IF;
    IF state.fingerprint = current AND counter >= state.high_water THEN
        UPDATE sync_feed_state SET high_water = greatest(high_water, counter);
        RETURN state.epoch;
    END IF;
    reason := CASE
        WHEN state.fingerprint <> current THEN
            'the database was restored from a backup or moved (its storage changed from '
            || state.fingerprint || ' to ' || current || ')'
        ELSE
            'the revision counter went back from ' || state.high_water || ' to ' || counter
    END;
    UPDATE sync_feed_state
       SET epoch = gen_random_uuid()::text, epoch_started_at = now(), epoch_reason = reason,
           fingerprint = current, high_water = counter;
    RETURN (SELECT epoch FROM sync_feed_state);
END;
$$ LANGUAGE plpgsql;

-- Subscriber side. The Leader a replica follows, by identity, and the epoch its cursor belongs
-- to; the chain of installations the Leader's list itself comes from (loops are refused).
ALTER TABLE replicas
    ADD COLUMN leader_installation TEXT,
    ADD COLUMN leader_upstream     TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN leader_epoch        TEXT,
    -- The epoch of the run in progress: a page of another epoch discards the run's progress.
    ADD COLUMN run_epoch           TEXT,
    -- Why the next run is a full resync, when something asked for one.
    ADD COLUMN resync_reason       TEXT,
    -- A run stopped before changing anything, until an Administrator decides.
    ADD COLUMN hold_kind           TEXT CHECK (hold_kind IN ('leader_changed', 'mass_removal')),
    ADD COLUMN hold_message        TEXT,
    ADD COLUMN hold_installation   TEXT,
    ADD COLUMN hold_removals       BIGINT,
    -- Removals an Administrator accepted for the next run.
    ADD COLUMN confirmed_removals  BIGINT;
ALTER TABLE replicas DROP CONSTRAINT replicas_state_check;
ALTER TABLE replicas ADD CONSTRAINT replicas_state_check
    CHECK (state IN ('idle', 'running', 'failed', 'held'));

-- Dossiers deleted here from a replicated list (allowed only while the Leader is unreachable):
-- the next run asks the Leader for them and puts them back.
CREATE TABLE replica_restores (
    replica_id BIGINT NOT NULL REFERENCES replicas (id) ON DELETE CASCADE,
    remote_id  BIGINT NOT NULL,
    deleted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (replica_id, remote_id)
);

ALTER TABLE sync_runs
    ADD COLUMN restored BIGINT NOT NULL DEFAULT 0,
    -- Why the run is what it is (a full resync and its cause, a hold), in the operator's words.
    ADD COLUMN reason   TEXT;
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_outcome_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_outcome_check
    CHECK (outcome IN ('running', 'success', 'failed', 'interrupted', 'held'));
