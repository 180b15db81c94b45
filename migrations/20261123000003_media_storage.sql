-- Images are JPEG, PNG, WebP or GIF bytes, already compressed, and a face vector's floats do not
-- compress: PostgreSQL's pglz tried anyway on every value over 2 KB, and profiling ten
-- Subscribers' syncs put a fifth of their databases' CPU time in `pglz_compress`.
-- Image bytes and thumbnails now go out of line uncompressed; a photo row (a 512-float vector is
-- 2 KB) stays in its page as it is, unless it is larger than a page can hold.
ALTER TABLE images
    ALTER COLUMN data SET STORAGE EXTERNAL,
    ALTER COLUMN thumbnail SET STORAGE EXTERNAL;
ALTER TABLE photos SET (toast_tuple_target = 8160);
