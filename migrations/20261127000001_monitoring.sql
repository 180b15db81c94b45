-- Monitoring: cameras post faces, each face is matched against the active watch lists, and the
-- outcome is an event (matched or not). Lists with `notify` also post their events to webhooks.

-- The Camera group's one permission: posting events.
ALTER TABLE group_permissions DROP CONSTRAINT group_permissions_permission_check;
ALTER TABLE group_permissions ADD CONSTRAINT group_permissions_permission_check
    CHECK (permission IN ('read', 'edit', 'admin', 'ingest'));

-- Events are partitioned by the day they were captured (UTC), so that the retention purge drops
-- whole days instead of deleting rows, and the page's newest-first scans touch one partition.
-- The primary key must hold the partition key; ids alone are unique (one sequence).
CREATE SEQUENCE events_id_seq;
CREATE TABLE events (
    id              BIGINT NOT NULL DEFAULT nextval('events_id_seq'),
    captured_at     TIMESTAMPTZ NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    camera          TEXT NOT NULL CHECK (char_length(camera) BETWEEN 1 AND 128),
    -- Where the face is in the posted photo (x, y, width, height); NULL for posted vectors.
    face_box        INTEGER[] CHECK (face_box IS NULL OR cardinality(face_box) = 4),
    -- The face cut from the photo, a small JPEG; NULL for posted vectors.
    face_jpeg       BYTEA,
    -- The match: the dossier, the photo of it that matched, the list that made it a match and
    -- how confident. All NULL: unmatched. The name is kept as it was, the dossier may go.
    dossier_id      BIGINT,
    dossier_name    TEXT,
    photo_id        BIGINT,
    watch_list_id   BIGINT,
    confidence      REAL CHECK (confidence BETWEEN 0 AND 1),
    -- The list asked for acknowledgement when the event was made.
    needs_ack       BOOLEAN NOT NULL DEFAULT FALSE,
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by TEXT,
    PRIMARY KEY (id, captured_at),
    CHECK ((dossier_id IS NULL) = (watch_list_id IS NULL)),
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
) PARTITION BY RANGE (captured_at);
ALTER SEQUENCE events_id_seq OWNED BY events.id;
-- Crops stay out of the rows the page scans.
ALTER TABLE events ALTER COLUMN face_jpeg SET STORAGE EXTERNAL;
-- The page: newest first, unfiltered or by camera, by list, or awaiting acknowledgement.
CREATE INDEX events_newest ON events (captured_at DESC, id DESC);
CREATE INDEX events_camera ON events (camera, captured_at DESC, id DESC);
CREATE INDEX events_list ON events (watch_list_id, captured_at DESC, id DESC)
    WHERE watch_list_id IS NOT NULL;
CREATE INDEX events_awaiting ON events (captured_at DESC, id DESC)
    WHERE needs_ack AND acknowledged_at IS NULL;

-- The partition of one day, created when first needed. Two servers may need it at once, hence
-- the lock; a day that exists is left alone.
CREATE FUNCTION events_partition(day DATE) RETURNS void AS $$
DECLARE
    name TEXT := 'events_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(dossier_lock_class('events_partitions'), 0);
    IF to_regclass(name) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
            name,
            day::timestamp AT TIME ZONE 'UTC',
            (day + 1)::timestamp AT TIME ZONE 'UTC');
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION dossier_lock_class(name TEXT) RETURNS INTEGER AS $$
    SELECT CASE name
        -- Writers of revisions hold it shared until they commit; the Leader's feed takes it
        -- exclusively for an instant to read its watermark.
        WHEN 'feed_writers' THEN 7414
        -- Creating or dropping a day's partition of events.
        WHEN 'events_partitions' THEN 7415
    END
$$ LANGUAGE sql IMMUTABLE STRICT;

-- Where events of lists with `notify` are posted. The secret signs each delivery
-- (HMAC-SHA256 of the body), so it is kept as given: the receiver holds the same one.
CREATE TABLE webhooks (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url            TEXT NOT NULL CHECK (url ~ '^https?://' AND char_length(url) <= 2048),
    secret         TEXT NOT NULL CHECK (char_length(secret) BETWEEN 16 AND 256),
    -- Only events of these lists / cameras (empty: all), at least this confident.
    watch_lists    BIGINT[] NOT NULL DEFAULT '{}',
    cameras        TEXT[] NOT NULL DEFAULT '{}',
    min_confidence REAL NOT NULL DEFAULT 0 CHECK (min_confidence BETWEEN 0 AND 1),
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One event to one webhook: written with the event (so none is lost), sent by a worker of
-- its own (so a dead endpoint never slows ingest), retried with backoff, kept as the log.
CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        BIGINT NOT NULL,
    -- The exact bytes signed and sent.
    body            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id DESC);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (created_at);
