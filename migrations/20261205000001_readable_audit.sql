-- An audit log people can read: each entry names its subject as it was called when the change
-- was made (a dossier's name, a user's username, a webhook's address), so that "dossier 517"
-- reads "dossier 517 · Jane Roe" even after Jane Roe is deleted; bookkeeping columns (a
-- dossier's replication revision, its folded name, a replica's run state) are not recorded, so
-- a photo upload is one entry (the photo) and not also "update dossier: revision"; and
-- webhooks, which send faces to an address, are audited like every other setting.

ALTER TABLE audit_log ADD COLUMN subject_name TEXT;

CREATE OR REPLACE FUNCTION audit_row() RETURNS trigger AS $$
DECLARE
    who     jsonb := audit_actor();
    before  jsonb;
    after   jsonb;
    changes jsonb := '{}';
    field   text;
    subject jsonb;
    named   text;
    -- Secrets, vectors and bookkeeping: never recorded.
    hidden  text[] := ARRAY['created_at', 'modified_at', 'password_hash', 'token_sha256',
                            'face_vector', 'last_seen_at', 'url', 'secret', 'revision',
                            'name_folded', 'image_sha256', 'face_box', 'cursor', 'run_id',
                            'run_until', 'run_after', 'run_full', 'run_epoch', 'run_sweep',
                            'state', 'items_done', 'items_total', 'photos_done',
                            'last_success_at', 'last_error', 'last_error_at', 'failures',
                            'next_run_at', 'verified_at', 'leader_installation',
                            'leader_upstream', 'leader_epoch', 'resync_reason', 'hold_kind',
                            'hold_message', 'hold_installation', 'hold_removals',
                            'confirmed_removals'];
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
    -- The whole row (hidden columns included) names the subject.
    subject := CASE TG_OP WHEN 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
    named := CASE TG_ARGV[0]
        WHEN 'user' THEN subject ->> 'username'
        WHEN 'webhook' THEN subject ->> 'url'
        WHEN 'camera' THEN subject ->> 'name'
        WHEN 'replica' THEN coalesce(subject ->> 'remote_list_name', 'list ' || (subject ->> 'remote_list_id'))
                            || ' from ' || (subject ->> 'remote_url')
        WHEN 'photo' THEN (SELECT d.name FROM dossiers d WHERE d.id = (subject ->> 'dossier_id')::bigint)
        WHEN 'membership' THEN
            (SELECT d.name FROM dossiers d WHERE d.id = (subject ->> 'dossier_id')::bigint)
            || ' in ' || coalesce((SELECT w.name FROM watch_lists w WHERE w.id = (subject ->> 'watch_list_id')::bigint),
                                  'list ' || (subject ->> 'watch_list_id'))
        WHEN 'api_token' THEN (SELECT u.username FROM users u WHERE u.id = (subject ->> 'user_id')::bigint)
        ELSE subject ->> 'name'
    END;
    INSERT INTO audit_log (actor_id, actor, address, action, subject_kind, subject_id, subject_name, changes)
    VALUES ((who ->> 'id')::bigint, who ->> 'name', who ->> 'address',
            CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE lower(TG_OP) END,
            TG_ARGV[0], coalesce(after, before) ->> TG_ARGV[1], named, changes);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- A webhook's address (where faces go), its filters and whether it is on; its secret never.
CREATE TRIGGER webhooks_audit AFTER INSERT OR UPDATE OR DELETE ON webhooks
    FOR EACH ROW WHEN (current_setting('dossier.audit_rows', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION audit_row('webhook', 'id');

-- The entries written before this migration get the names their subjects have now.
UPDATE audit_log a SET subject_name = n.name
FROM (
    SELECT 'dossier' AS kind, id::text AS id, name FROM dossiers
    UNION ALL SELECT 'watch_list', id::text, name FROM watch_lists
    UNION ALL SELECT 'user', id::text, username FROM users
    UNION ALL SELECT 'camera', id::text, name FROM cameras
) n
WHERE a.subject_name IS NULL AND a.subject_kind = n.kind AND a.subject_id = n.id;
