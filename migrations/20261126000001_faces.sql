-- Faces found by the installation's own engine: where the face is in the photo, and how many
-- faces the engine saw (NULL: the photo was never analysed), so that a backfill interrupted or
-- rerun does not analyse a photo twice.
ALTER TABLE photos
    ADD COLUMN face_box   INTEGER[] CHECK (face_box IS NULL OR cardinality(face_box) = 4),
    ADD COLUMN face_count SMALLINT CHECK (face_count >= 0);

-- A small JPEG of each found face, for search results. A table of its own: photo rows are
-- scanned by face searches and stay small (photos keep rows of up to a page inline).
CREATE TABLE face_thumbnails (
    photo_id BIGINT PRIMARY KEY REFERENCES photos (id) ON DELETE CASCADE,
    jpeg     BYTEA NOT NULL
);
ALTER TABLE face_thumbnails ALTER COLUMN jpeg SET STORAGE EXTERNAL;

-- The backfill's work list: photos without a vector that were never analysed, in id order.
CREATE INDEX photos_unanalysed ON photos (id) WHERE face_vector IS NULL AND face_count IS NULL;
