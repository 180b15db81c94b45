//! The SQL of watch lists, checked against the schema at compile time (`.sqlx/`).

use crate::error::{Error, Result};
use domain::watch_lists::{ListSettings, WatchList, WatchListInput, WatchListLabel};
use sqlx::{Connection, PgConnection, PgPool};

pub fn not_found(id: i64) -> Error {
    Error::not_found(format!("watch list {id} does not exist"))
}

/// Every list, or only `id`: one query for both, so the columns are written once.
async fn select(pool: &PgPool, id: Option<i64>) -> Result<Vec<WatchList>> {
    let rows = sqlx::query!(
        r#"SELECT w.id, w.name, w.comment, w.color, w.active, w.acknowledge, w.notify,
                  w.confidence_threshold, w.created_at, w.modified_at,
                  (SELECT count(*) FROM dossier_watch_lists x WHERE x.watch_list_id = w.id)
                      AS "dossier_count!",
                  (SELECT r.remote_url FROM replicas r WHERE r.watch_list_id = w.id) AS replica_of
           FROM watch_lists w
           WHERE $1::bigint IS NULL OR w.id = $1
           ORDER BY w.name, w.id"#,
        id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| WatchList {
            id: r.id,
            name: r.name,
            settings: ListSettings {
                comment: r.comment,
                color: r.color,
                active: r.active,
                acknowledge: r.acknowledge,
                notify: r.notify,
                confidence_threshold: r.confidence_threshold,
            },
            dossier_count: r.dossier_count,
            replica_of: r.replica_of,
            created_at: r.created_at,
            modified_at: r.modified_at,
        })
        .collect())
}

pub async fn list(pool: &PgPool) -> Result<Vec<WatchList>> {
    select(pool, None).await
}

pub async fn labels(pool: &PgPool) -> Result<Vec<WatchListLabel>> {
    Ok(sqlx::query_as!(
        WatchListLabel,
        "SELECT w.id, w.name, w.color,
            (SELECT r.remote_url FROM replicas r WHERE r.watch_list_id = w.id) AS replica_of
         FROM watch_lists w ORDER BY w.name, w.id",
    )
    .fetch_all(pool)
    .await?)
}

pub async fn get(pool: &PgPool, id: i64) -> Result<WatchList> {
    select(pool, Some(id))
        .await?
        .pop()
        .ok_or_else(|| not_found(id))
}

// The writes take a connection (the caller's audited transaction) and return the id; the
// caller reads the result after its commit.

pub async fn insert(db: &mut PgConnection, input: &WatchListInput) -> Result<i64> {
    let id = sqlx::query_scalar!(
        "INSERT INTO watch_lists
             (name, comment, color, active, acknowledge, notify, confidence_threshold)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        input.name,
        input.settings.comment,
        input.settings.color,
        input.settings.active,
        input.settings.acknowledge,
        input.settings.notify,
        input.settings.confidence_threshold,
    )
    .fetch_one(db)
    .await?;
    Ok(id)
}

pub async fn update(db: &mut PgConnection, id: i64, input: &WatchListInput) -> Result<()> {
    let updated = sqlx::query!(
        "UPDATE watch_lists SET name = $2, comment = $3, color = $4, active = $5,
             acknowledge = $6, notify = $7, confidence_threshold = $8
         WHERE id = $1",
        id,
        input.name,
        input.settings.comment,
        input.settings.color,
        input.settings.active,
        input.settings.acknowledge,
        input.settings.notify,
        input.settings.confidence_threshold,
    )
    .execute(db)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

/// Renames a list: the one change a replicated list takes here (its other settings follow the
/// Leader's list).
pub async fn rename(db: &mut PgConnection, id: i64, name: &str) -> Result<()> {
    let name = domain::input::required_text("name", name, 256)?;
    let updated = sqlx::query!("UPDATE watch_lists SET name = $2 WHERE id = $1", id, name)
        .execute(db)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

/// How many dossiers belong to this list and to no other, and so would go with it.
pub async fn exclusive_dossier_count(pool: &PgPool, id: i64) -> Result<i64> {
    get(pool, id).await?;
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM exclusive_dossiers($1::bigint)"#,
        id
    )
    .fetch_one(pool)
    .await?)
}

pub async fn delete(db: &mut PgConnection, id: i64) -> Result<u64> {
    let mut tx = db.begin().await?;
    // Lock the list first so that no dossier is added to it while we decide what goes.
    let found = sqlx::query_scalar!("SELECT id FROM watch_lists WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *tx)
        .await?;
    if found.is_none() {
        return Err(not_found(id));
    }
    let images = sqlx::query_scalar!(
        "SELECT image_sha256 FROM photos WHERE dossier_id IN (SELECT exclusive_dossiers($1::bigint))",
        id
    )
    .fetch_all(&mut *tx)
    .await?;
    let dossiers = sqlx::query!(
        "DELETE FROM dossiers WHERE id IN (SELECT exclusive_dossiers($1::bigint))",
        id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query!("DELETE FROM watch_lists WHERE id = $1", id)
        .execute(&mut *tx)
        .await?;
    crate::images::delete_unused_images(&mut tx, &images).await?;
    tx.commit().await?;
    Ok(dossiers)
}
