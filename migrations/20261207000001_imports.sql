-- Bulk imports of dossiers: a CSV of people (with photo file names), from the command line
-- with a folder of photos, or uploaded on the Imports page as a ZIP.

-- The importer's own id of a person: a second import of the same key updates that dossier
-- instead of adding another. Set only by imports; NULL for dossiers made any other way.
ALTER TABLE dossiers ADD COLUMN external_key TEXT UNIQUE
    CHECK (char_length(external_key) BETWEEN 1 AND 256);

CREATE TABLE imports (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'folder': the command line's CSV and photos folder; 'zip': an upload kept in IMPORT_DIR
    -- until the import ends (the server resumes it from there after a restart).
    source       TEXT NOT NULL CHECK (source IN ('folder', 'zip')),
    file_name    TEXT NOT NULL CHECK (char_length(file_name) <= 512),
    -- The CSV's digest: an interrupted import of the same file is resumed, not started again.
    file_sha256  BYTEA NOT NULL,
    -- Who started it (domain::audit::Actor); the one audit entry of the import names them.
    actor        JSONB NOT NULL,
    create_lists BOOLEAN NOT NULL DEFAULT FALSE,
    -- A list every row joins besides its own `lists`.
    default_list TEXT,
    state        TEXT NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'failed')),
    -- Why a failed import stopped (the whole file was unusable).
    error        TEXT,
    rows_total   BIGINT,
    -- The rows read so far (written or refused), committed with their batch: where a
    -- resumed import goes on from.
    rows_done    BIGINT NOT NULL DEFAULT 0,
    created      BIGINT NOT NULL DEFAULT 0,
    updated      BIGINT NOT NULL DEFAULT 0,
    unchanged    BIGINT NOT NULL DEFAULT 0,
    refused      BIGINT NOT NULL DEFAULT 0,
    photos       BIGINT NOT NULL DEFAULT 0,
    lists_created TEXT[] NOT NULL DEFAULT '{}',
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ
);
CREATE INDEX imports_unfinished ON imports (file_sha256) WHERE state IN ('queued', 'running');

-- Every row an import refused, with its line in the file and why: the downloadable report.
CREATE TABLE import_refusals (
    import_id    BIGINT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line         BIGINT NOT NULL,
    external_key TEXT,
    name         TEXT,
    reason       TEXT NOT NULL,
    PRIMARY KEY (import_id, line)
);

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
        -- One import at a time, held by the session running it: (imports, 0).
        WHEN 'imports' THEN 7418
    END
$$ LANGUAGE sql IMMUTABLE STRICT;
