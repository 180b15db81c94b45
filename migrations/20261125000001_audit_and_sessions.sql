-- Who changed what, and sessions that end when idle.

-- The Leader's name for a replicated list, shown on the Replication page (kept by each run).
ALTER TABLE replicas ADD COLUMN remote_list_name TEXT;

-- A session also ends after the installation's idle timeout (SESSION_IDLE_MINUTES).
ALTER TABLE sessions ADD COLUMN last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- The audit log: one row per change to a watch list, dossier, membership, photo, user, API
-- token or replica, and per login, failed login, person-started sync and replication run.
-- Rows are written by the triggers below in the transaction of the change itself, so a change
-- without its entry cannot commit, and no write path (the web app, the API, the command line)
-- can forget one. Who made it comes from the transaction's `dossier.actor` setting (a JSON
-- object {id, name, address}), set by the server before it writes; without it the change was
-- made on the command line or by the database's owner.
CREATE TABLE audit_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- users.id of the person, if one; no foreign key: the entry outlives the account.
    actor_id     BIGINT,
    -- The username, or "replication of list 3 from Leader http://…", or "command line".
    actor        TEXT NOT NULL,
    -- The client's address, for changes and logins made over HTTP.
    address      TEXT,
    -- create | update | delete | login | login_failed | login_refused | logout | sync | …
    action       TEXT NOT NULL,
    -- watch_list | dossier | membership | photo | user | api_token | replica | session
    subject_kind TEXT NOT NULL,
    subject_id   TEXT,
    -- What changed: {"field": {"before": …, "after": …}}; a creation has only "after", a
    -- deletion only "before". Secrets and vectors are never recorded.
    changes      JSONB NOT NULL DEFAULT '{}',
    -- Words for what has no fields (a login, a replication run's counts).
    summary      TEXT NOT NULL DEFAULT ''
);
-- The page filters by subject, actor or action and pages newest first by id; purging goes
-- by time.
CREATE INDEX audit_log_subject ON audit_log (subject_kind, subject_id, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);
CREATE INDEX audit_log_at ON audit_log (at);

-- The person (or process) behind the current transaction's writes.
CREATE FUNCTION audit_actor() RETURNS jsonb AS $$
    SELECT coalesce(nullif(current_setting('dossier.actor', true), '')::jsonb,
                    '{"name": "command line"}'::jsonb)
$$ LANGUAGE sql STABLE;

-- One entry per changed row. TG_ARGV: the subject kind, and the column that identifies it.
CREATE FUNCTION audit_row() RETURNS trigger AS $$
DECLARE
    who     jsonb := audit_actor();
    before  jsonb;
    after   jsonb;
    changes jsonb := '{}';
    field   text;
    hidden  text[] := ARRAY['created_at', 'modified_at', 'password_hash', 'token_sha256',
                            'face_vector', 'last_seen_at'];
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

-- Replication writes whole pages of dossiers; it records one entry per run instead of one per
-- row, and turns the row triggers off in its own transactions (`dossier.audit_rows = off`,
-- local to the transaction, so a pooled connection never carries it into a person's write).
CREATE TRIGGER watch_lists_audit AFTER INSERT OR UPDATE OR DELETE ON watch_lists
    FOR EACH ROW WHEN (current_setting('dossier.audit_rows', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION audit_row('watch_list', 'id');
CREATE TRIGGER dossiers_audit AFTER INSERT OR UPDATE OR DELETE ON dossiers
    FOR EACH ROW WHEN (current_setting('dossier.audit_rows', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION audit_row('dossier', 'id');
CREATE TRIGGER memberships_audit AFTER INSERT OR DELETE ON dossier_watch_lists
    FOR EACH ROW WHEN (current_setting('dossier.audit_rows', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION audit_row('membership', 'dossier_id');
CREATE TRIGGER photos_audit AFTER INSERT OR DELETE ON photos
    FOR EACH ROW WHEN (current_setting('dossier.audit_rows', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION audit_row('photo', 'id');
CREATE TRIGGER users_audit AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW WHEN (current_setting('dossier.audit_rows', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION audit_row('user', 'id');
CREATE TRIGGER api_tokens_audit AFTER INSERT OR DELETE ON api_tokens
    FOR EACH ROW WHEN (current_setting('dossier.audit_rows', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION audit_row('api_token', 'id');
-- A replica's own progress (cursor, state) is the replication's business and in its history;
-- its creation and removal are a person's.
CREATE TRIGGER replicas_audit AFTER INSERT OR DELETE ON replicas
    FOR EACH ROW WHEN (current_setting('dossier.audit_rows', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION audit_row('replica', 'id');
