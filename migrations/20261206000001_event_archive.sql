-- The event archive searched by face ("where else was this person seen"): each event keeps its
-- face's vector, quantised to one signed byte per float (`face_index::archive`: 128 bytes for
-- dlib's 128 floats instead of 512, and the step, 0.008, is a third of the spread of one
-- person's photos, so no search answer changes by it), and the transaction that last wrote it,
-- so that each server's in-memory copy reads only what is new since it last looked. Events made
-- before this migration kept no vector and are not found by it.
ALTER TABLE events
    ADD COLUMN face_code  BYTEA CHECK (face_code IS NULL OR length(face_code) BETWEEN 1 AND 8192),
    ADD COLUMN coded_xid  xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_coded ON events (coded_xid) WHERE face_code IS NOT NULL;
