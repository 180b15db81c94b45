-- Hits flow up: a Subscriber's matches on replicated lists reach the list's Leader, exactly
-- once in effect, and acknowledgements travel both ways.

-- Subscriber side. One row per event to send to a Leader, written by the trigger below in the
-- transaction that writes the event (so no match is lost and none is queued without its event),
-- with the Leader's own ids for the list and the dossier (so that the row outlives a replica
-- cancelled before its backlog is sent). Its key on the Leader is (this installation, `epoch`,
-- `event_id`): `epoch` is this installation's epoch when the event was made, so an event id
-- handed out again after this database was restored from a backup is never taken for an old
-- one, and an old event re-sent from the restored rows is recognised. A change the Leader must
-- hear of (a better shot, a more confident match, an acknowledgement) bumps `version`; the row
-- is pending while `version > sent_version`. Delivered rows are kept for EVENTS_RETENTION_DAYS,
-- so that a Leader restored from an older backup can be sent again what it lost.
CREATE TABLE hit_outbox (
    event_id       BIGINT PRIMARY KEY,
    captured_at    TIMESTAMPTZ NOT NULL,
    leader_url     TEXT NOT NULL,
    leader_list    BIGINT NOT NULL,
    leader_dossier BIGINT NOT NULL,
    epoch          TEXT NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1,
    sent_version   BIGINT NOT NULL DEFAULT 0,
    queued_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at   TIMESTAMPTZ
);
CREATE INDEX hit_outbox_pending ON hit_outbox (leader_url, event_id) WHERE version > sent_version;
CREATE INDEX hit_outbox_age ON hit_outbox (captured_at);

-- What this Subscriber knows of each Leader it delivers to.
CREATE TABLE hit_leaders (
    leader_url       TEXT PRIMARY KEY,
    -- The Leader's epoch at the last answer: a new one means it lost history (a restore), and
    -- everything it was sent is sent again.
    leader_epoch     TEXT,
    -- The Leader's acknowledgements of this site's events taken so far (its `site_acks.id`).
    ack_cursor       BIGINT NOT NULL DEFAULT 0,
    last_contact_at  TIMESTAMPTZ,
    last_delivery_at TIMESTAMPTZ,
    delivered        BIGINT NOT NULL DEFAULT 0,
    -- Pending rows that aged out (EVENTS_RETENTION_DAYS) before the Leader took them.
    undelivered      BIGINT NOT NULL DEFAULT 0,
    failures         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    last_error_at    TIMESTAMPTZ,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A matched event of a replicated list is queued for its Leader. Changes written because the
-- Leader said so (its acknowledgements, applied here) set `dossier.from_leader` and are not
-- sent back.
CREATE FUNCTION events_queue_hit() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('dossier.from_leader', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO hit_outbox (event_id, captured_at, leader_url, leader_list, leader_dossier, epoch)
    SELECT NEW.id, NEW.captured_at, r.remote_url, r.remote_list_id, rd.remote_id,
           sync_current_epoch()
      FROM replicas r
      JOIN remote_dossiers rd ON rd.remote_url = r.remote_url AND rd.dossier_id = NEW.dossier_id
     WHERE r.watch_list_id = NEW.watch_list_id
    ON CONFLICT (event_id) DO UPDATE
       SET version = hit_outbox.version + 1, leader_url = EXCLUDED.leader_url,
           leader_list = EXCLUDED.leader_list, leader_dossier = EXCLUDED.leader_dossier;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Leader side. Every Subscriber that reported to this Leader, as it last described itself.
CREATE TABLE sites (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    installation      TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    address           TEXT NOT NULL,
    face_model        TEXT NOT NULL,
    version           TEXT NOT NULL,
    -- The Leader's lists it replicates, with their last completed sync there.
    lists             JSONB NOT NULL DEFAULT '[]',
    backlog           BIGINT NOT NULL DEFAULT 0,
    oldest_pending_at TIMESTAMPTZ,
    -- Seconds from the event reaching the site to reaching here, the latest batch's longest.
    lag_seconds       REAL,
    events            BIGINT NOT NULL DEFAULT 0,
    first_contact_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_contact_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_events_at    TIMESTAMPTZ
);

-- A site's event here: the site, and the key it has there (its epoch and its event id).
ALTER TABLE events
    ADD COLUMN site_id      BIGINT REFERENCES sites (id),
    ADD COLUMN origin_epoch TEXT,
    ADD COLUMN origin_id    BIGINT,
    ADD CONSTRAINT events_origin_whole
        CHECK ((site_id IS NULL) = (origin_id IS NULL) AND (site_id IS NULL) = (origin_epoch IS NULL));
CREATE UNIQUE INDEX events_origin ON events (site_id, origin_epoch, origin_id, captured_at)
    WHERE site_id IS NOT NULL;
CREATE INDEX events_site ON events (site_id, captured_at DESC, id DESC) WHERE site_id IS NOT NULL;

-- The Subscriber's trigger, now that events name their site: this installation's own matched
-- events only (a site's events stored here go no further up).
CREATE TRIGGER events_hit_made AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.watch_list_id IS NOT NULL AND NEW.site_id IS NULL)
    EXECUTE FUNCTION events_queue_hit();
CREATE TRIGGER events_hit_changed AFTER UPDATE ON events
    FOR EACH ROW WHEN (NEW.watch_list_id IS NOT NULL AND NEW.site_id IS NULL AND (
        OLD.dossier_id IS DISTINCT FROM NEW.dossier_id
        OR OLD.watch_list_id IS DISTINCT FROM NEW.watch_list_id
        OR OLD.confidence IS DISTINCT FROM NEW.confidence
        OR OLD.quality IS DISTINCT FROM NEW.quality
        OR OLD.acknowledged_at IS DISTINCT FROM NEW.acknowledged_at))
    EXECUTE FUNCTION events_queue_hit();

-- Acknowledgements made here of sites' events, for each site to take (in `id` order) with its
-- next delivery. Those that came from the site itself (`dossier.from_site`) are not sent back.
CREATE TABLE site_acks (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id         BIGINT NOT NULL REFERENCES sites (id),
    origin_epoch    TEXT NOT NULL,
    origin_id       BIGINT NOT NULL,
    acknowledged_by TEXT NOT NULL,
    acknowledged_at TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX site_acks_site ON site_acks (site_id, id);
CREATE INDEX site_acks_age ON site_acks (created_at);

CREATE FUNCTION events_ack_for_site() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('dossier.from_site', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO site_acks (site_id, origin_epoch, origin_id, acknowledged_by, acknowledged_at)
    VALUES (NEW.site_id, NEW.origin_epoch, NEW.origin_id, NEW.acknowledged_by, NEW.acknowledged_at);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER events_site_ack AFTER UPDATE ON events
    FOR EACH ROW WHEN (NEW.site_id IS NOT NULL AND NEW.acknowledged_at IS NOT NULL
                       AND OLD.acknowledged_at IS DISTINCT FROM NEW.acknowledged_at)
    EXECUTE FUNCTION events_ack_for_site();

CREATE OR REPLACE FUNCTION dossier_lock_class(name TEXT) RETURNS INTEGER AS $$
    SELECT CASE name
        -- Writers of revisions hold it shared until they commit; the Leader's feed takes it
        -- exclusively for an instant to read its watermark.
        WHEN 'feed_writers' THEN 7414
        -- Creating or dropping a day's partition of events.
        WHEN 'events_partitions' THEN 7415
        -- A webhook sender's life: (webhook_sender, its lease owner id).
        WHEN 'webhook_sender' THEN 7416
        -- One delivery of hits to a Leader at a time: (hit_delivery, hashtext(leader_url)).
        WHEN 'hit_delivery' THEN 7417
    END
$$ LANGUAGE sql IMMUTABLE STRICT;
