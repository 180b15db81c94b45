//! The SQL of dossiers: keyset search, one dossier with its photos, create, edit, delete.

use crate::error::{Error, Result};
use domain::dossiers::{Dossier, DossierInput, DossierPage, DossierQuery, DossierSummary};
use domain::photos::PhotoInfo;
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, PgPool, Postgres, QueryBuilder, Row};

pub fn not_found(id: i64) -> Error {
    Error::not_found(format!("dossier {id} does not exist"))
}

/// Escapes LIKE wildcards so that a search for "50%" means the text "50%".
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Newest first, keyset-paged on the id: each page is an index range scan whatever the page
/// number. With a watch-list filter the scan runs on the membership table's primary key
/// (watch_list_id, dossier_id) instead, which stays cheap for small lists in a big table.
pub async fn search(pool: &PgPool, query: &DossierQuery) -> Result<DossierPage> {
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT d.id, d.name, d.comment, d.active, d.modified_at,
            ARRAY(SELECT x.watch_list_id FROM dossier_watch_lists x
                  WHERE x.dossier_id = d.id ORDER BY 1) AS watch_lists,
            (SELECT encode(p.image_sha256, 'hex') FROM photos p
             WHERE p.dossier_id = d.id ORDER BY p.id LIMIT 1) AS thumbnail,
            (SELECT count(*) FROM photos p WHERE p.dossier_id = d.id) AS photo_count
         FROM ",
    );
    let key = if let Some(list) = query.watch_list {
        sql.push(
            "dossier_watch_lists m JOIN dossiers d ON d.id = m.dossier_id WHERE m.watch_list_id = ",
        )
        .push_bind(list);
        "m.dossier_id"
    } else {
        sql.push("dossiers d WHERE TRUE");
        "d.id"
    };
    if !query.name.is_empty() {
        // `name_folded` is lower(name), stored (see migrations): folding each row's name
        // here was a sixth of the search's cost.
        sql.push(" AND d.name_folded LIKE lower(")
            .push_bind(like_pattern(&query.name))
            .push(")");
    }
    if let Some(active) = query.active {
        sql.push(" AND d.active = ").push_bind(active);
    }
    if let Some(after) = query.after {
        sql.push(format_args!(" AND {key} < ")).push_bind(after);
    }
    sql.push(format_args!(" ORDER BY {key} DESC LIMIT "))
        .push_bind(query.limit + 1);
    let rows = sql.build().fetch_all(pool).await?;
    let rows = rows.iter().map(summary_of).collect::<Result<Vec<_>, _>>()?;
    let (dossiers, next_after) = domain::input::keyset_page(rows, query.limit, |d| d.id);
    Ok(DossierPage {
        dossiers,
        next_after,
    })
}

/// A row of [`search`]'s query, by its columns' names.
fn summary_of(row: &PgRow) -> Result<DossierSummary, sqlx::Error> {
    Ok(DossierSummary {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        comment: row.try_get("comment")?,
        active: row.try_get("active")?,
        watch_lists: row.try_get("watch_lists")?,
        thumbnail: row.try_get("thumbnail")?,
        photo_count: row.try_get("photo_count")?,
        modified_at: row.try_get("modified_at")?,
    })
}

pub async fn get(pool: &PgPool, id: i64) -> Result<Dossier> {
    let row = sqlx::query!(
        r#"SELECT d.id, d.name, d.comment, d.active, d.meta, d.external_key, d.created_at,
                  d.modified_at, ARRAY(SELECT x.watch_list_id FROM dossier_watch_lists x
                        WHERE x.dossier_id = d.id ORDER BY 1) AS "watch_lists!",
                  (SELECT r.remote_url FROM replicas r
                     JOIN dossier_watch_lists x ON x.watch_list_id = r.watch_list_id
                    WHERE x.dossier_id = d.id LIMIT 1) AS replica_of
           FROM dossiers d WHERE d.id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| not_found(id))?;
    let photos: Vec<PhotoInfo> = crate::photos::store::of_dossier(pool, id).await?;
    Ok(Dossier {
        id: row.id,
        name: row.name,
        comment: row.comment,
        active: row.active,
        meta: row.meta,
        external_key: row.external_key,
        watch_lists: row.watch_lists,
        photos,
        replica_of: row.replica_of,
        created_at: row.created_at,
        modified_at: row.modified_at,
    })
}

async fn check_watch_lists(tx: &mut sqlx::Transaction<'_, Postgres>, ids: &[i64]) -> Result<()> {
    // Lock the lists (shared) so that none is deleted between this check and the insert.
    let found = sqlx::query_scalar!(
        "SELECT id FROM watch_lists WHERE id = ANY($1) FOR SHARE",
        ids
    )
    .fetch_all(&mut **tx)
    .await?;
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !found.contains(id))
        .map(|id| id.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(
            "watch_lists",
            format!("unknown watch list id(s): {}", missing.join(", ")),
        ));
    }
    Ok(())
}

async fn set_watch_lists(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    dossier: i64,
    ids: &[i64],
) -> Result<()> {
    sqlx::query!(
        "DELETE FROM dossier_watch_lists WHERE dossier_id = $1 AND NOT (watch_list_id = ANY($2))",
        dossier,
        ids
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO dossier_watch_lists (watch_list_id, dossier_id)
         SELECT l, $1 FROM UNNEST($2::bigint[]) AS l ON CONFLICT DO NOTHING",
        dossier,
        ids
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// The writes take a connection (the caller's audited transaction) and return the id; the
// caller reads the result after its commit.

pub async fn insert(db: &mut PgConnection, input: &DossierInput) -> Result<i64> {
    let mut tx = db.begin().await?;
    check_watch_lists(&mut tx, &input.watch_lists).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO dossiers (name, comment, active, meta) VALUES ($1, $2, $3, $4) RETURNING id",
        input.name,
        input.comment,
        input.active,
        input.meta,
    )
    .fetch_one(&mut *tx)
    .await?;
    set_watch_lists(&mut tx, id, &input.watch_lists).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(db: &mut PgConnection, id: i64, input: &DossierInput) -> Result<()> {
    let mut tx = db.begin().await?;
    check_watch_lists(&mut tx, &input.watch_lists).await?;
    let updated = sqlx::query!(
        "UPDATE dossiers SET name = $2, comment = $3, active = $4, meta = $5 WHERE id = $1",
        id,
        input.name,
        input.comment,
        input.active,
        input.meta,
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(not_found(id));
    }
    set_watch_lists(&mut tx, id, &input.watch_lists).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete(db: &mut PgConnection, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let images = sqlx::query_scalar!("SELECT image_sha256 FROM photos WHERE dossier_id = $1", id)
        .fetch_all(&mut *tx)
        .await?;
    // A replicated dossier (deleted while its Leader is unreachable) comes back with the next run.
    crate::sync::restore::remember_deletion(&mut tx, id).await?;
    let deleted = sqlx::query!("DELETE FROM dossiers WHERE id = $1", id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(not_found(id));
    }
    crate::images::delete_unused_images(&mut tx, &images).await?;
    tx.commit().await?;
    Ok(())
}
