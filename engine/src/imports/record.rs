//! The SQL of the imports table: an import started (or found again, to resume), read, and its
//! counts moved on with each batch.

use crate::error::{Error, Result};
use domain::audit::Actor;
use domain::imports::{Import, ImportOptions, ImportState};
use sqlx::{PgExecutor, PgPool};

/// An import about to start.
pub struct NewImport {
    /// `folder` or `zip`.
    pub source: &'static str,
    pub file_name: String,
    pub sha256: Vec<u8>,
    pub actor: Actor,
    pub options: ImportOptions,
}

/// The unfinished import of the same file from the same kind of source, if there is one: an
/// import is resumed, not started twice.
pub async fn unfinished(pool: &PgPool, source: &str, sha256: &[u8]) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM imports WHERE file_sha256 = $1 AND source = $2
            AND state IN ('queued', 'running') ORDER BY id DESC LIMIT 1",
        sha256,
        source
    )
    .fetch_optional(pool)
    .await?)
}

/// The last import of the same file that ran to its end, before `id`.
pub async fn done_before(pool: &PgPool, id: i64, sha256: &[u8]) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM imports WHERE file_sha256 = $1 AND state = 'done' AND id < $2
         ORDER BY id DESC LIMIT 1",
        sha256,
        id
    )
    .fetch_optional(pool)
    .await?)
}

pub async fn insert(pool: &PgPool, new: &NewImport) -> Result<i64> {
    let actor = serde_json::to_value(&new.actor).map_err(|_| Error::internal())?;
    Ok(sqlx::query_scalar!(
        "INSERT INTO imports (source, file_name, file_sha256, actor, create_lists, default_list)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        new.source,
        new.file_name,
        new.sha256,
        actor,
        new.options.create_lists,
        new.options.default_list,
    )
    .fetch_one(pool)
    .await?)
}

/// What the run of an import needs of its row.
pub struct Started {
    pub actor: Actor,
    pub options: ImportOptions,
    pub rows_done: i64,
    pub sha256: Vec<u8>,
    pub file_name: String,
}

/// Marks the import running (its runner holds its lock) and reads where it stands.
pub async fn start(pool: &PgPool, id: i64) -> Result<Started> {
    let row = sqlx::query!(
        "UPDATE imports SET state = 'running' WHERE id = $1 AND state IN ('queued', 'running')
         RETURNING actor, create_lists, default_list, rows_done, file_sha256, file_name",
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| Error::conflict("id", format!("import {id} has ended already")))?;
    Ok(Started {
        actor: serde_json::from_value(row.actor).map_err(|_| Error::internal())?,
        options: ImportOptions {
            create_lists: row.create_lists,
            default_list: row.default_list,
        },
        rows_done: row.rows_done,
        sha256: row.file_sha256,
        file_name: row.file_name,
    })
}

pub async fn set_total(pool: &PgPool, id: i64, total: i64) -> Result<()> {
    sqlx::query!(
        "UPDATE imports SET rows_total = $2 WHERE id = $1",
        id,
        total
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// What one batch did, added to the import's counts in the batch's transaction.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub rows: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub refused: i64,
    pub photos: i64,
    pub lists_created: Vec<String>,
}

pub async fn add_counts(db: impl PgExecutor<'_>, id: i64, c: &Counts) -> Result<()> {
    sqlx::query!(
        "UPDATE imports SET rows_done = rows_done + $2, created = created + $3,
                updated = updated + $4, unchanged = unchanged + $5, refused = refused + $6,
                photos = photos + $7, lists_created = lists_created || $8::text[]
         WHERE id = $1",
        id,
        c.rows,
        c.created,
        c.updated,
        c.unchanged,
        c.refused,
        c.photos,
        &c.lists_created,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Ends the import: done, or failed with why.
pub async fn finish(db: impl PgExecutor<'_>, id: i64, error: Option<&str>) -> Result<()> {
    sqlx::query!(
        "UPDATE imports SET state = CASE WHEN $2::text IS NULL THEN 'done' ELSE 'failed' END,
                error = $2, finished_at = now()
         WHERE id = $1",
        id,
        error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Imports newest first, or the one `id`: one query for both.
async fn select(db: impl PgExecutor<'_>, id: Option<i64>, limit: i64) -> Result<Vec<Import>> {
    let rows = sqlx::query!(
        r#"SELECT i.id, i.source, i.file_name, i.actor->>'name' AS "started_by!", i.state,
                  i.error, i.create_lists, i.default_list, i.rows_total, i.rows_done, i.created,
                  i.updated, i.unchanged, i.refused, i.photos, i.lists_created, i.started_at,
                  i.finished_at,
                  i.state = 'running' AND NOT EXISTS (
                      SELECT 1 FROM pg_locks l
                      WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
                        AND l.classid = dossier_lock_class('imports')::oid
                        AND l.objid = i.id::oid
                        AND l.database = (SELECT oid FROM pg_database
                                          WHERE datname = current_database())) AS "interrupted!"
           FROM imports i WHERE i.id = coalesce($1, i.id) ORDER BY i.id DESC LIMIT $2"#,
        id,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Import {
            id: r.id,
            source: r.source,
            file_name: r.file_name,
            started_by: r.started_by,
            state: ImportState::parse(&r.state).unwrap_or(ImportState::Failed),
            interrupted: r.interrupted,
            error: r.error,
            create_lists: r.create_lists,
            default_list: r.default_list,
            rows_total: r.rows_total,
            rows_done: r.rows_done,
            created: r.created,
            updated: r.updated,
            unchanged: r.unchanged,
            refused: r.refused,
            photos: r.photos,
            lists_created: r.lists_created,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
        .collect())
}

pub async fn get(pool: &PgPool, id: i64) -> Result<Import> {
    get_in(pool, id).await
}

/// [`get`] on a connection (inside a transaction).
pub async fn get_in(db: impl PgExecutor<'_>, id: i64) -> Result<Import> {
    select(db, Some(id), 1)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found(format!("import {id} does not exist")))
}

/// The latest imports, newest first.
pub async fn latest(pool: &PgPool, limit: i64) -> Result<Vec<Import>> {
    select(pool, None, limit).await
}

/// The ZIP uploads the server should run: queued, or running with nobody running them (the
/// server stopped halfway), oldest first.
pub async fn waiting_uploads(pool: &PgPool) -> Result<Vec<i64>> {
    Ok(select(pool, None, 100)
        .await?
        .into_iter()
        .rev()
        .filter(|i| i.source == "zip" && (i.state == ImportState::Queued || i.interrupted))
        .map(|i| i.id)
        .collect())
}

/// The first `limit` rows an import refused, in the file's order.
pub async fn refusals(pool: &PgPool, id: i64, limit: i64) -> Result<Vec<domain::imports::Refusal>> {
    Ok(sqlx::query_as!(
        domain::imports::Refusal,
        "SELECT line, external_key, name, reason FROM import_refusals
         WHERE import_id = $1 ORDER BY line LIMIT $2",
        id,
        limit
    )
    .fetch_all(pool)
    .await?)
}
