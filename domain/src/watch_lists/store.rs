//! The SQL of watch lists.

use super::{WatchList, WatchListInput};
use crate::error::{Error, Result};
use sqlx::PgPool;

const COLUMNS: &str = "w.id, w.name, w.comment, w.color, w.active, w.acknowledge, w.notify,
    w.confidence_threshold, w.created_at, w.modified_at,
    (SELECT count(*) FROM dossier_watch_lists x WHERE x.watch_list_id = w.id) AS dossier_count,
    (SELECT r.remote_url FROM replicas r WHERE r.watch_list_id = w.id) AS replica_of";

pub fn not_found(id: i64) -> Error {
    Error::not_found(format!("watch list {id} does not exist"))
}

pub async fn list(pool: &PgPool) -> Result<Vec<WatchList>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM watch_lists w ORDER BY w.name, w.id"
    ))
    .fetch_all(pool)
    .await?)
}

pub async fn labels(pool: &PgPool) -> Result<Vec<super::WatchListLabel>> {
    Ok(sqlx::query_as(
        "SELECT w.id, w.name, w.color,
            (SELECT r.remote_url FROM replicas r WHERE r.watch_list_id = w.id) AS replica_of
         FROM watch_lists w ORDER BY w.name, w.id",
    )
    .fetch_all(pool)
    .await?)
}

pub async fn get(pool: &PgPool, id: i64) -> Result<WatchList> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM watch_lists w WHERE w.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| not_found(id))
}

pub async fn insert(pool: &PgPool, input: &WatchListInput) -> Result<WatchList> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO watch_lists
             (name, comment, color, active, acknowledge, notify, confidence_threshold)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&input.name)
    .bind(&input.comment)
    .bind(&input.color)
    .bind(input.active)
    .bind(input.acknowledge)
    .bind(input.notify)
    .bind(input.confidence_threshold)
    .fetch_one(pool)
    .await?;
    get(pool, id).await
}

pub async fn update(pool: &PgPool, id: i64, input: &WatchListInput) -> Result<WatchList> {
    let updated = sqlx::query(
        "UPDATE watch_lists SET name = $2, comment = $3, color = $4, active = $5,
             acknowledge = $6, notify = $7, confidence_threshold = $8
         WHERE id = $1",
    )
    .bind(id)
    .bind(&input.name)
    .bind(&input.comment)
    .bind(&input.color)
    .bind(input.active)
    .bind(input.acknowledge)
    .bind(input.notify)
    .bind(input.confidence_threshold)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(not_found(id));
    }
    get(pool, id).await
}

const EXCLUSIVE: &str = "SELECT x.dossier_id FROM dossier_watch_lists x
    WHERE x.watch_list_id = $1 AND NOT EXISTS (
        SELECT 1 FROM dossier_watch_lists y
        WHERE y.dossier_id = x.dossier_id AND y.watch_list_id <> $1)";

pub async fn exclusive_dossier_count(pool: &PgPool, id: i64) -> Result<i64> {
    get(pool, id).await?;
    Ok(
        sqlx::query_scalar(&format!("SELECT count(*) FROM ({EXCLUSIVE}) AS e"))
            .bind(id)
            .fetch_one(pool)
            .await?,
    )
}

pub async fn delete(pool: &PgPool, id: i64) -> Result<u64> {
    let mut tx = pool.begin().await?;
    // Lock the list first so that no dossier is added to it while we decide what goes.
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM watch_lists WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if found.is_none() {
        return Err(not_found(id));
    }
    let images: Vec<Vec<u8>> = sqlx::query_scalar(&format!(
        "SELECT image_sha256 FROM photos WHERE dossier_id IN ({EXCLUSIVE})"
    ))
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let dossiers = sqlx::query(&format!("DELETE FROM dossiers WHERE id IN ({EXCLUSIVE})"))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM watch_lists WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    crate::images::delete_unused_images(&mut tx, &images).await?;
    tx.commit().await?;
    Ok(dossiers)
}
