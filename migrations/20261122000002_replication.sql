-- Replication. The Leader keeps a change log in the rows themselves: every change to a dossier
-- (its fields, its photos) or to a list membership takes a new value of one sequence, its
-- *revision*. Removals from a list (including deletions of dossiers and lists) leave tombstones.
-- A Subscriber remembers the revision it has completed (its cursor) and asks for what is newer.

CREATE SEQUENCE sync_revision;

-- Writers hold this advisory lock (shared) until they commit; the Leader's feed takes it
-- exclusively for an instant to read a watermark under which every revision is committed, so
-- a slow transaction can never commit a revision below a cursor a Subscriber has already passed.
CREATE FUNCTION sync_next_revision() RETURNS BIGINT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7414);
    RETURN nextval('sync_revision');
END;
$$ LANGUAGE plpgsql;

ALTER TABLE dossiers ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE dossier_watch_lists ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
CREATE INDEX dossiers_revision ON dossiers (revision);
CREATE INDEX dossier_watch_lists_revision ON dossier_watch_lists (watch_list_id, revision);

CREATE FUNCTION dossiers_bump_revision() RETURNS trigger AS $$
BEGIN
    NEW.revision := sync_next_revision();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER dossiers_revision BEFORE INSERT OR UPDATE ON dossiers
    FOR EACH ROW EXECUTE FUNCTION dossiers_bump_revision();
CREATE TRIGGER dossier_watch_lists_revision BEFORE INSERT OR UPDATE ON dossier_watch_lists
    FOR EACH ROW EXECUTE FUNCTION dossiers_bump_revision();

-- A photo added or removed is a change of its dossier.
CREATE FUNCTION photos_touch_dossier() RETURNS trigger AS $$
BEGIN
    UPDATE dossiers SET modified_at = now()
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.dossier_id ELSE NEW.dossier_id END;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER photos_touch AFTER INSERT OR DELETE ON photos
    FOR EACH ROW EXECUTE FUNCTION photos_touch_dossier();

CREATE TABLE sync_tombstones (
    watch_list_id BIGINT NOT NULL,
    dossier_id    BIGINT NOT NULL,
    revision      BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sync_tombstones_age ON sync_tombstones (created_at);
CREATE INDEX sync_tombstones_list ON sync_tombstones (watch_list_id, revision);

CREATE FUNCTION dossier_watch_lists_tombstone() RETURNS trigger AS $$
BEGIN
    INSERT INTO sync_tombstones (watch_list_id, dossier_id, revision)
    VALUES (OLD.watch_list_id, OLD.dossier_id, sync_next_revision());
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER dossier_watch_lists_tombstone AFTER DELETE ON dossier_watch_lists
    FOR EACH ROW EXECUTE FUNCTION dossier_watch_lists_tombstone();

-- Tombstones are pruned after a while; a cursor older than this watermark cannot be served
-- incrementally any more and the Subscriber starts a clean full resync.
CREATE TABLE sync_feed_state (
    singleton      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    pruned_through BIGINT NOT NULL DEFAULT 0
);
INSERT INTO sync_feed_state DEFAULT VALUES;

-- Subscriber side: a replica ties a local watch list to a list of a Leader.
CREATE TABLE replicas (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    watch_list_id    BIGINT NOT NULL UNIQUE REFERENCES watch_lists (id) ON DELETE CASCADE,
    remote_url       TEXT NOT NULL,
    remote_list_id   BIGINT NOT NULL,
    -- The Leader revision this replica has completely applied (0: nothing yet).
    cursor           BIGINT NOT NULL DEFAULT 0,
    -- A run in progress, so that a killed run resumes where it stopped: the watermark it
    -- syncs to, the last Leader dossier id applied, and whether it is a full resync.
    run_id           BIGINT,
    run_until        BIGINT,
    run_after        BIGINT NOT NULL DEFAULT 0,
    run_full         BOOLEAN NOT NULL DEFAULT FALSE,
    state            TEXT NOT NULL DEFAULT 'idle'
                     CHECK (state IN ('idle', 'running', 'failed')),
    items_done       BIGINT NOT NULL DEFAULT 0,
    items_total      BIGINT,
    photos_done      BIGINT NOT NULL DEFAULT 0,
    last_success_at  TIMESTAMPTZ,
    last_error       TEXT,
    last_error_at    TIMESTAMPTZ,
    failures         INTEGER NOT NULL DEFAULT 0,
    next_run_at      TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One local dossier per Leader dossier, whatever number of replicated lists it is in.
CREATE TABLE remote_dossiers (
    remote_url   TEXT NOT NULL,
    remote_id    BIGINT NOT NULL,
    dossier_id   BIGINT NOT NULL UNIQUE REFERENCES dossiers (id) ON DELETE CASCADE,
    PRIMARY KEY (remote_url, remote_id)
);

-- What the current full resync of a replica has seen so far: at its end, whatever the list
-- holds that it did not see is gone on the Leader. Per replica, because one dossier may be in
-- several replicated lists whose runs interleave.
CREATE TABLE replica_seen (
    replica_id BIGINT NOT NULL REFERENCES replicas (id) ON DELETE CASCADE,
    dossier_id BIGINT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    run_id     BIGINT NOT NULL,
    PRIMARY KEY (replica_id, dossier_id)
);

CREATE TABLE sync_runs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    replica_id    BIGINT NOT NULL REFERENCES replicas (id) ON DELETE CASCADE,
    full_resync   BOOLEAN NOT NULL,
    cursor_from   BIGINT NOT NULL,
    cursor_to     BIGINT,
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at   TIMESTAMPTZ,
    outcome       TEXT NOT NULL DEFAULT 'running'
                  CHECK (outcome IN ('running', 'success', 'failed', 'interrupted')),
    dossiers      BIGINT NOT NULL DEFAULT 0,
    removals      BIGINT NOT NULL DEFAULT 0,
    photos        BIGINT NOT NULL DEFAULT 0,
    error         TEXT
);
CREATE INDEX sync_runs_replica ON sync_runs (replica_id, id DESC);
