-- The dossier database: watch lists of dossiers, their photos, and who may touch them.
--
-- Constraints here repeat the server's validation on purpose: the server gives the friendly
-- message, the database guarantees that nothing invalid lands even if a code path forgets.

-- Substring search on dossier names (ILIKE '%q%') stays fast at a million rows only with a
-- trigram index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- `modified_at` is kept by the database so that no write path can forget it.
CREATE OR REPLACE FUNCTION touch_modified_at() RETURNS trigger AS $$
BEGIN
    NEW.modified_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TABLE watch_lists (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 256),
    comment              TEXT NOT NULL DEFAULT '' CHECK (char_length(comment) <= 2048),
    -- Lower-case #rrggbb: the colour label shown beside the list everywhere.
    color                TEXT NOT NULL DEFAULT '#1f77b4' CHECK (color ~ '^#[0-9a-f]{6}$'),
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    -- Whether matches against this list must be acknowledged by an operator.
    acknowledge          BOOLEAN NOT NULL DEFAULT FALSE,
    notify               BOOLEAN NOT NULL DEFAULT FALSE,
    -- NULL means "use the installation's default threshold".
    confidence_threshold REAL CHECK (confidence_threshold BETWEEN 0 AND 1),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER watch_lists_touch BEFORE UPDATE ON watch_lists
    FOR EACH ROW EXECUTE FUNCTION touch_modified_at();

CREATE TABLE dossiers (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 256),
    comment     TEXT NOT NULL DEFAULT '' CHECK (char_length(comment) <= 2048),
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    -- Free-form attributes (passport number, case id…); always a JSON object.
    meta        JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(meta) = 'object'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER dossiers_touch BEFORE UPDATE ON dossiers
    FOR EACH ROW EXECUTE FUNCTION touch_modified_at();
-- Trigram index for the name search; the primary key serves the keyset paging (id DESC).
CREATE INDEX dossiers_name_trgm ON dossiers USING gin (name gin_trgm_ops);

-- A dossier belongs to one or more watch lists. The primary key (watch_list_id, dossier_id)
-- serves "dossiers of list L, newest first"; the second index serves "lists of dossier D".
CREATE TABLE dossier_watch_lists (
    watch_list_id BIGINT NOT NULL REFERENCES watch_lists (id) ON DELETE CASCADE,
    dossier_id    BIGINT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    PRIMARY KEY (watch_list_id, dossier_id)
);
CREATE INDEX dossier_watch_lists_dossier ON dossier_watch_lists (dossier_id);

-- Image bytes are stored once per content hash, however many photos point at them: the same
-- picture uploaded twice (or replicated twice) costs one row.
CREATE TABLE images (
    sha256       BYTEA PRIMARY KEY CHECK (octet_length(sha256) = 32),
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    -- A small JPEG for lists and galleries, made once at upload.
    thumbnail    BYTEA NOT NULL,
    width        INTEGER NOT NULL CHECK (width > 0),
    height       INTEGER NOT NULL CHECK (height > 0),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A photo is one face of one dossier. The feature vector is optional (not every upload comes
-- with one) but when present it carries the name of the model that produced it, because vectors
-- of different models are not comparable.
CREATE TABLE photos (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id   BIGINT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    image_sha256 BYTEA NOT NULL REFERENCES images (sha256),
    face_vector  REAL[],
    face_model   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((face_vector IS NULL) = (face_model IS NULL))
);
CREATE INDEX photos_dossier ON photos (dossier_id, id);
CREATE INDEX photos_image ON photos (image_sha256);

-- Groups carry permissions; users carry one group. The three built-in groups are created by the
-- `create-groups` command (idempotent), not here, so that an installation can see them being made.
CREATE TABLE groups (
    id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE group_permissions (
    group_id   BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    -- 'read' | 'edit' | 'admin'; checked by the server functions.
    permission TEXT NOT NULL CHECK (permission IN ('read', 'edit', 'admin')),
    PRIMARY KEY (group_id, permission)
);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE CHECK (char_length(username) BETWEEN 1 AND 150),
    -- PHC string (argon2id); never leaves the server.
    password_hash TEXT NOT NULL,
    group_id      BIGINT NOT NULL REFERENCES groups (id),
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION touch_modified_at();

-- Browser sessions. Only the SHA-256 of the cookie value is stored, so a leaked table does not
-- hand out live sessions.
CREATE TABLE sessions (
    token_sha256 BYTEA PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- API tokens for `Authorization: Token …`; likewise stored hashed, shown once when issued.
CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_sha256 BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
