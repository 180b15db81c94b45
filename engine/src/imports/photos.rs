//! The photos a batch adds: their images stored once per digest, the photo rows with their
//! faces' vectors and boxes, and the faces' thumbnails, a statement each.

use super::analyse::Analysed;
use crate::error::Result;
use crate::images::insert_images;
use sqlx::{Postgres, Transaction};

/// Adds each `(dossier, photo)`; the photos' faces are of `model`.
pub async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    model: &str,
    photos: Vec<(i64, Analysed)>,
) -> Result<()> {
    if photos.is_empty() {
        return Ok(());
    }
    let images: Vec<_> = photos.iter().map(|(_, p)| &p.image).collect();
    insert_images(tx, &images).await?;
    let ids: Vec<i64> = sqlx::query_scalar!(
        r#"SELECT nextval(pg_get_serial_sequence('photos', 'id')) AS "id!"
           FROM generate_series(1, $1::int)"#,
        photos.len() as i32
    )
    .fetch_all(&mut **tx)
    .await?;
    let (mut plain, mut plain_dossiers, mut plain_images) = (Vec::new(), Vec::new(), Vec::new());
    let (mut faced, mut dossiers, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut vectors, mut boxes, mut thumbnails) = (Vec::new(), Vec::new(), Vec::new());
    for (id, (dossier, photo)) in ids.into_iter().zip(photos) {
        match photo.face {
            Some(face) => {
                faced.push(id);
                dossiers.push(dossier);
                hashes.push(photo.image.sha256);
                vectors.extend(face.vector);
                boxes.extend(face.bounds.to_array());
                thumbnails.push(face.thumbnail);
            }
            None => {
                plain.push(id);
                plain_dossiers.push(dossier);
                plain_images.push(photo.image.sha256);
            }
        }
    }
    // The vectors travel as one flat array, sliced per photo (as the backfill writes them).
    let length = face_engine::VECTOR_LENGTH as i64;
    sqlx::query!(
        "INSERT INTO photos (id, dossier_id, image_sha256, face_vector, face_model, face_box, face_count)
         OVERRIDING SYSTEM VALUE
         SELECT t.id, t.dossier, t.image, ($4::real[])[(t.n - 1) * $6 + 1 : t.n * $6], $7,
                ($5::int[])[(t.n - 1) * 4 + 1 : t.n * 4], 1
         FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[]) WITH ORDINALITY AS t(id, dossier, image, n)",
        &faced,
        &dossiers,
        &hashes,
        &vectors,
        &boxes,
        length,
        model
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO face_thumbnails (photo_id, jpeg) SELECT * FROM UNNEST($1::bigint[], $2::bytea[])",
        &faced,
        &thumbnails
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO photos (id, dossier_id, image_sha256) OVERRIDING SYSTEM VALUE
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[])",
        &plain,
        &plain_dossiers,
        &plain_images
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
