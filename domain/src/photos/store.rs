//! The SQL of photos: adding one to a dossier (with its image), reading and deleting them.

use super::{NewPhoto, PhotoInfo};
use crate::error::{Error, Result};
use crate::images::{delete_unused_images, insert_images};
use sqlx::PgPool;

pub async fn insert(pool: &PgPool, photo: NewPhoto) -> Result<PhotoInfo> {
    let mut tx = pool.begin().await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM dossiers WHERE id = $1 FOR SHARE")
        .bind(photo.dossier_id)
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
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO photos (dossier_id, image_sha256, face_vector, face_model)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(photo.dossier_id)
    .bind(&img.sha256)
    .bind(vector)
    .bind(model)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    get(pool, id).await
}

const COLUMNS: &str = "p.id, p.dossier_id, encode(p.image_sha256, 'hex') AS sha256,
    i.content_type, i.width, i.height, p.face_model, p.face_vector IS NOT NULL AS has_vector";

pub async fn get(pool: &PgPool, id: i64) -> Result<PhotoInfo> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM photos p JOIN images i ON i.sha256 = p.image_sha256 WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| Error::not_found(format!("photo {id} does not exist")))
}

pub async fn of_dossier(pool: &PgPool, dossier_id: i64) -> Result<Vec<PhotoInfo>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM photos p JOIN images i ON i.sha256 = p.image_sha256
         WHERE p.dossier_id = $1 ORDER BY p.id"
    ))
    .bind(dossier_id)
    .fetch_all(pool)
    .await?)
}

pub async fn delete(pool: &PgPool, id: i64) -> Result<()> {
    let mut tx = pool.begin().await?;
    // Deleting the photo also marks its dossier changed (a trigger does, for replication).
    let image: Option<Vec<u8>> =
        sqlx::query_scalar("DELETE FROM photos WHERE id = $1 RETURNING image_sha256")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let image = image.ok_or_else(|| Error::not_found(format!("photo {id} does not exist")))?;
    delete_unused_images(&mut tx, &[image]).await?;
    tx.commit().await?;
    Ok(())
}
