-- Cameras: the video streams an installation watches itself, through its video workers
-- (inside `dossier serve`, or `dossier video-worker` processes on other machines).

-- The Video worker group's one permission: leasing cameras (their streams, with any
-- credentials in their URLs) and posting what they see.
ALTER TABLE group_permissions DROP CONSTRAINT group_permissions_permission_check;
ALTER TABLE group_permissions ADD CONSTRAINT group_permissions_permission_check
    CHECK (permission IN ('read', 'edit', 'admin', 'ingest', 'video'));

-- A camera as an Administrator sets it (audited). The stream URL may carry a password: the
-- audit log records `url_shown`, the URL with it masked, never the URL itself.
CREATE TABLE cameras (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 128),
    url         TEXT NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
    url_shown   TEXT GENERATED ALWAYS AS
                    (regexp_replace(url, '^([a-zA-Z]+://)([^:/@]*):[^@/]*@', '\1\2:***@')) STORED,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    -- Frames analysed per second.
    fps         REAL NOT NULL DEFAULT 5 CHECK (fps > 0 AND fps <= 30),
    -- The smallest face looked at, its height in pixels of the frame.
    min_face    INTEGER NOT NULL DEFAULT 80 CHECK (min_face BETWEEN 20 AND 2000),
    -- The lowest quality (0-1) a face may have to make an event.
    min_quality REAL NOT NULL DEFAULT 0.3 CHECK (min_quality BETWEEN 0 AND 1),
    -- The part of the frame watched: left, top, width, height as shares of the frame.
    region      REAL[] CHECK (region IS NULL OR cardinality(region) = 4),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION audit_row() RETURNS trigger AS $$
DECLARE
    who     jsonb := audit_actor();
    before  jsonb;
    after   jsonb;
    changes jsonb := '{}';
    field   text;
    hidden  text[] := ARRAY['created_at', 'modified_at', 'password_hash', 'token_sha256',
                            'face_vector', 'last_seen_at', 'url'];
BEGIN
    IF TG_OP <> 'INSERT' THEN before := to_jsonb(OLD) - hidden; END IF;
    IF TG_OP <> 'DELETE' THEN after := to_jsonb(NEW) - hidden; END IF;
    FOR field IN SELECT jsonb_object_keys(coalesce(after, before)) LOOP
        IF before IS NULL THEN
            changes := changes || jsonb_build_object(field, jsonb_build_object('after', after -> field));
        ELSIF after IS NULL THEN
            changes := changes || jsonb_build_object(field, jsonb_build_object('before', before -> field));
        ELSIF before -> field IS DISTINCT FROM after -> field THEN
            changes := changes || jsonb_build_object(field,
                jsonb_build_object('before', before -> field, 'after', after -> field));
        END IF;
    END LOOP;
    IF TG_OP = 'UPDATE' AND changes = '{}' THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (actor_id, actor, address, action, subject_kind, subject_id, changes)
    VALUES ((who ->> 'id')::bigint, who ->> 'name', who ->> 'address',
            CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE lower(TG_OP) END,
            TG_ARGV[0], coalesce(after, before) ->> TG_ARGV[1], changes);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cameras_audit AFTER INSERT OR UPDATE OR DELETE ON cameras
    FOR EACH ROW WHEN (current_setting('dossier.audit_rows', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION audit_row('camera', 'id');

-- What the video worker holding a camera says of it, every few seconds (not audited), and
-- its lease: a worker holds a camera until `leased_until`, renewing it while it runs, so that
-- a worker that dies loses its cameras to another within the lease, and no camera is ever
-- analysed by two workers at once (a worker stops a camera it could not renew before its
-- lease runs out). `lease` counts the leases, so that a stale worker's report is told apart.
CREATE TABLE camera_status (
    camera_id        BIGINT PRIMARY KEY REFERENCES cameras (id) ON DELETE CASCADE,
    leased_by        TEXT,
    leased_until     TIMESTAMPTZ,
    lease            BIGINT NOT NULL DEFAULT 0,
    state            TEXT NOT NULL DEFAULT 'waiting'
                     CHECK (state IN ('waiting', 'connecting', 'streaming', 'failed', 'disabled')),
    detail           TEXT,
    fps              REAL,
    faces_per_minute REAL,
    width            INTEGER,
    height           INTEGER,
    last_frame_at    TIMESTAMPTZ,
    next_retry_at    TIMESTAMPTZ,
    reported_at      TIMESTAMPTZ,
    snapshot         BYTEA,
    snapshot_at      TIMESTAMPTZ
);
ALTER TABLE camera_status ALTER COLUMN snapshot SET STORAGE EXTERNAL;
CREATE INDEX camera_status_lease ON camera_status (leased_until);

-- Every camera has its status row from the start, however it was added.
CREATE FUNCTION camera_status_row() RETURNS trigger AS $$
BEGIN
    INSERT INTO camera_status (camera_id) VALUES (NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cameras_status AFTER INSERT ON cameras
    FOR EACH ROW EXECUTE FUNCTION camera_status_row();

-- Events of a watched camera: the camera they came from (a posted event names its camera as
-- before; one that names a known camera points at it too), the track they are (one event per
-- person seen, updated with better shots), when the person was last seen, the best shot's
-- quality and a small picture of the frame it was in.
ALTER TABLE events
    ADD COLUMN camera_id    BIGINT REFERENCES cameras (id) ON DELETE SET NULL,
    ADD COLUMN track        TEXT CHECK (track IS NULL OR char_length(track) BETWEEN 1 AND 64),
    ADD COLUMN last_seen_at TIMESTAMPTZ,
    ADD COLUMN quality      REAL CHECK (quality IS NULL OR quality BETWEEN 0 AND 1),
    ADD COLUMN frame_jpeg   BYTEA;
ALTER TABLE events ALTER COLUMN frame_jpeg SET STORAGE EXTERNAL;
-- A track is one event: its later shots update it. Its capture time is the track's first.
CREATE UNIQUE INDEX events_track ON events (track, captured_at) WHERE track IS NOT NULL;
