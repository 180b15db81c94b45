//! The SQL of photos: adding one to a dossier (with its image), reading and deleting them.

use super::NewPhoto;
use crate::error::{Error, Result};
use crate::images::{delete_unused_images, insert_images};
use domain::photos::PhotoInfo;
use sqlx::{Connection, PgConnection, PgPool};

/// Adds a photo (in the caller's audited transaction); returns its id.
pub async fn insert(db: &mut PgConnection, photo: NewPhoto) -> Result<i64> {
    let mut tx = db.begin().await?;
    let exists = sqlx::query_scalar!(
        "SELECT id FROM dossiers WHERE id = $1 FOR SHARE",
        photo.dossier_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if exists.is_none() {
        return Err(Error::invalid(
            "dossier_id",
            format!("dossier {} does not exist", photo.dossier_id),
        ));
    }
    let img = &photo.image;
    insert_images(&mut tx, &[img]).await?;
    let (vector, model) = photo.vector.unzip();
    let (bounds, thumbnail) = photo.face.unzip();
    let bounds = bounds.map(|b| b.to_array());
    let id = sqlx::query_scalar!(
        "INSERT INTO photos (dossier_id, image_sha256, face_vector, face_model, face_box, face_count)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $5::int[] IS NULL THEN NULL ELSE 1 END) RETURNING id",
        photo.dossier_id,
        img.sha256,
        vector.as_deref(),
        model,
        bounds.as_ref().map(|b| b.as_slice()),
    )
    .fetch_one(&mut *tx)
    .await?;
    if let Some(jpeg) = thumbnail {
        sqlx::query!(
            "INSERT INTO face_thumbnails (photo_id, jpeg) VALUES ($1, $2)",
            id,
            jpeg
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// The photos of one dossier, or the one photo `id`: one query for both.
async fn select(pool: &PgPool, dossier_id: Option<i64>, id: Option<i64>) -> Result<Vec<PhotoInfo>> {
    let rows = sqlx::query!(
        r#"SELECT p.id, p.dossier_id, encode(p.image_sha256, 'hex') AS "sha256!",
                  i.content_type, i.width, i.height, p.face_model,
                  p.face_vector IS NOT NULL AS "has_vector!", p.face_box
           FROM photos p JOIN images i ON i.sha256 = p.image_sha256
           WHERE p.dossier_id = coalesce($1, p.dossier_id) AND p.id = coalesce($2, p.id)
           ORDER BY p.id"#,
        dossier_id,
        id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PhotoInfo {
            id: r.id,
            dossier_id: r.dossier_id,
            sha256: r.sha256,
            content_type: r.content_type,
            width: r.width,
            height: r.height,
            face_model: r.face_model,
            has_vector: r.has_vector,
            face_box: r
                .face_box
                .as_deref()
                .and_then(domain::faces::FaceBox::from_slice),
        })
        .collect())
}

pub async fn get(pool: &PgPool, id: i64) -> Result<PhotoInfo> {
    select(pool, None, Some(id))
        .await?
        .pop()
        .ok_or_else(|| Error::not_found(format!("photo {id} does not exist")))
}

pub async fn of_dossier(pool: &PgPool, dossier_id: i64) -> Result<Vec<PhotoInfo>> {
    select(pool, Some(dossier_id), None).await
}

pub async fn delete(db: &mut PgConnection, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    // Deleting the photo also marks its dossier changed (a trigger does, for replication).
    let image = sqlx::query_scalar!(
        "DELETE FROM photos WHERE id = $1 RETURNING image_sha256",
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let image = image.ok_or_else(|| Error::not_found(format!("photo {id} does not exist")))?;
    delete_unused_images(&mut tx, &[image]).await?;
    tx.commit().await?;
    Ok(())
}
