//! The Leader's side: which lists it offers, the changes of a list between two revisions, the
//! digest of a list, and image bytes by hash.

use super::history::{identity, lock_watermark, watermark};
use super::{ChangePage, LeaderList, ListDigest, RemoteDossier, RemoteList, RemotePhoto};
use crate::error::{Error, Result};
use domain::watch_lists::ListSettings;
use sqlx::PgPool;

/// Largest page of changes a Subscriber may ask for.
pub const MAX_PAGE: i64 = 2000;

/// A cursor below this watermark cannot be served incrementally (its tombstones are pruned).
#[derive(Debug, thiserror::Error)]
#[error("revision {0} is older than the oldest change kept ({1}); resync from scratch")]
pub struct CursorTooOld(pub i64, pub i64);

/// How long tombstones are kept: a Subscriber that has not synced for longer gets a full resync.
pub const TOMBSTONE_RETENTION_DAYS: i32 = 30;

/// Forgets tombstones older than the retention, and remembers up to which revision it did so
/// (one transaction, so a Subscriber never sees the tombstones gone without the watermark).
pub async fn prune_tombstones(pool: &PgPool, retention_days: i32) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let pruned: Option<i64> = sqlx::query_scalar!(
        "WITH gone AS (DELETE FROM sync_tombstones
                        WHERE created_at < now() - make_interval(days => $1) RETURNING revision)
         SELECT max(revision) FROM gone",
        retention_days
    )
    .fetch_one(&mut *tx)
    .await?;
    let Some(through) = pruned else {
        tx.rollback().await?;
        return Ok(0);
    };
    sqlx::query!(
        "UPDATE sync_feed_state SET pruned_through = greatest(pruned_through, $1)",
        through
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(through as u64)
}

pub async fn lists(pool: &PgPool) -> Result<Vec<RemoteList>> {
    Ok(sqlx::query_as!(
        RemoteList,
        r#"SELECT w.id, w.name, w.color,
              (SELECT count(*) FROM dossier_watch_lists x WHERE x.watch_list_id = w.id)
                  AS "dossier_count!",
              coalesce((SELECT r.leader_installation || r.leader_upstream FROM replicas r
                        WHERE r.watch_list_id = w.id AND r.leader_installation IS NOT NULL),
                       '{}') AS "upstream!"
           FROM watch_lists w ORDER BY w.name"#,
    )
    .fetch_all(pool)
    .await?)
}

/// A list as this Leader has it now, or "not found" if it has no such list.
async fn list_settings(pool: &PgPool, id: i64) -> Result<LeaderList> {
    let row = sqlx::query!(
        "SELECT name, comment, color, active, acknowledge, notify, confidence_threshold
         FROM watch_lists WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| Error::not_found(format!("watch list {id} does not exist")))?;
    Ok(LeaderList {
        name: Some(row.name),
        settings: ListSettings {
            comment: row.comment,
            color: row.color,
            active: row.active,
            acknowledge: row.acknowledge,
            notify: row.notify,
            confidence_threshold: row.confidence_threshold,
        },
    })
}

/// Every member of a list, in id order: what a Subscriber compares its replica with before a
/// run that may remove much of it.
pub async fn members(pool: &PgPool, list: i64) -> Result<Vec<i64>> {
    list_settings(pool, list).await?;
    Ok(sqlx::query_scalar!(
        "SELECT dossier_id FROM dossier_watch_lists WHERE watch_list_id = $1 ORDER BY dossier_id",
        list
    )
    .fetch_all(pool)
    .await?)
}

struct DossierRow {
    id: i64,
    name: String,
    comment: String,
    active: bool,
    meta: serde_json::Value,
    in_list: bool,
}

struct PhotoRow {
    dossier_id: i64,
    sha256: String,
    face_model: Option<String>,
    face_vector: Option<Vec<f32>>,
}

/// The changes of `list` with revisions in (`since`, `until`], for dossier ids after `after`.
/// Each changed dossier is sent as it is now: either its current state (if it is in the list)
/// or a removal. Sending a state newer than `until` is harmless: a later run sends it again.
pub async fn changes(
    pool: &PgPool,
    list: i64,
    since: i64,
    until: Option<i64>,
    after: i64,
    limit: i64,
) -> Result<ChangePage, ChangesError> {
    let settings = list_settings(pool, list).await?;
    let pruned: i64 = sqlx::query_scalar!("SELECT pruned_through FROM sync_feed_state")
        .fetch_one(pool)
        .await
        .map_err(Error::from)?;
    if since > 0 && since < pruned {
        return Err(ChangesError::TooOld(CursorTooOld(since, pruned)));
    }
    let first_page = until.is_none();
    let (until, epoch) = match until {
        Some(u) => (u, identity(pool).await?.1),
        None => watermark(pool).await?,
    };
    let limit = limit.clamp(1, MAX_PAGE);
    // A full sync (since = 0) is every member, walked in id order on the membership key, so each
    // page is one index range however big the list; removals matter only to a Subscriber that
    // has something to remove. An incremental run reads the revision indexes, so its cost
    // follows the number of changes, not the size of the list.
    const MEMBERS: &str = "
        SELECT m.dossier_id AS id FROM dossier_watch_lists m
         WHERE m.watch_list_id = $1 AND m.dossier_id > $4";
    const CHANGED: &str = "
        SELECT m.dossier_id AS id FROM dossier_watch_lists m
         WHERE m.watch_list_id = $1 AND m.revision > $2 AND m.revision <= $3 AND m.dossier_id > $4
        UNION
        SELECT d.id FROM dossiers d
          JOIN dossier_watch_lists m ON m.dossier_id = d.id AND m.watch_list_id = $1
         WHERE d.revision > $2 AND d.revision <= $3 AND d.id > $4
        UNION
        SELECT t.dossier_id FROM sync_tombstones t
         WHERE t.watch_list_id = $1 AND t.revision > $2 AND t.revision <= $3 AND t.dossier_id > $4";
    // The only composed statements left: the same page and count over one of two selections.
    // Both selections are exercised by every replication test (full and incremental runs).
    let selection = if since == 0 { MEMBERS } else { CHANGED };
    let ids: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT id FROM ({selection}) AS c ORDER BY id LIMIT $5"
    ))
    .bind(list)
    .bind(since)
    .bind(until)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(pool)
    .await
    .map_err(Error::from)?;
    // The first page counts the run: its changes, and of those the ones that are not members
    // any more (removals; none in a full sync, which sends only members).
    let (total, removals_total): (Option<i64>, Option<i64>) = if first_page {
        let (total, removals): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*), count(*) FILTER (WHERE $2 > 0 AND NOT EXISTS (
                        SELECT 1 FROM dossier_watch_lists x
                        WHERE x.watch_list_id = $1 AND x.dossier_id = c.id))
             FROM ({selection}) AS c"
        ))
        .bind(list)
        .bind(since)
        .bind(until)
        .bind(after)
        .fetch_one(pool)
        .await
        .map_err(Error::from)?;
        (Some(total), Some(removals))
    } else {
        (None, None)
    };
    let (ids, next_after) = if ids.len() as i64 > limit {
        let ids = ids[..limit as usize].to_vec();
        let last = ids.last().copied();
        (ids, last)
    } else {
        (ids, None)
    };
    let (upserts, removals) = dossiers_as_now(pool, list, ids).await?;
    Ok(ChangePage {
        until,
        epoch,
        list: settings,
        total,
        removals_total,
        upserts,
        removals,
        next_after,
    })
}

/// Chosen dossiers of a list as they are now, whatever their revisions: what a Subscriber asks
/// for to put back the dossiers it deleted while this Leader was unreachable. Ids that are not
/// members come back as removals.
pub async fn dossiers(pool: &PgPool, list: i64, ids: Vec<i64>) -> Result<ChangePage> {
    let settings = list_settings(pool, list).await?;
    let (until, epoch) = watermark(pool).await?;
    let (upserts, removals) = dossiers_as_now(pool, list, ids).await?;
    Ok(ChangePage {
        until,
        epoch,
        list: settings,
        total: None,
        removals_total: None,
        upserts,
        removals,
        next_after: None,
    })
}

/// The dossiers `ids` (in id order) with their photos if they are in `list`; the others are
/// removals.
async fn dossiers_as_now(
    pool: &PgPool,
    list: i64,
    mut ids: Vec<i64>,
) -> Result<(Vec<RemoteDossier>, Vec<i64>)> {
    ids.sort_unstable();
    ids.dedup();
    let rows = sqlx::query_as!(
        DossierRow,
        r#"SELECT d.id, d.name, d.comment, d.active, d.meta,
              EXISTS (SELECT 1 FROM dossier_watch_lists m
                      WHERE m.dossier_id = d.id AND m.watch_list_id = $2) AS "in_list!"
           FROM dossiers d WHERE d.id = ANY($1) ORDER BY d.id"#,
        &ids,
        list
    )
    .fetch_all(pool)
    .await?;
    let photos = sqlx::query_as!(
        PhotoRow,
        r#"SELECT p.dossier_id, encode(p.image_sha256, 'hex') AS "sha256!", p.face_model,
                  p.face_vector
           FROM photos p WHERE p.dossier_id = ANY($1) ORDER BY p.dossier_id, p.id"#,
        &ids
    )
    .fetch_all(pool)
    .await?;

    // Encoding 500 vectors is milliseconds of CPU with no await in it: off the runtime's
    // workers, so that the Leader's own requests are not queued behind it.
    tokio::task::spawn_blocking(move || assemble(ids, rows, photos))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "assembling a feed page failed");
            Error::internal()
        })
}

/// The page's dossiers with their photos (vectors encoded for the wire), and the ids that are
/// no longer in the list.
fn assemble(
    ids: Vec<i64>,
    rows: Vec<DossierRow>,
    photos: Vec<PhotoRow>,
) -> (Vec<RemoteDossier>, Vec<i64>) {
    let mut upserts = Vec::new();
    let mut photos = photos.into_iter().peekable();
    for row in rows {
        let mut own = Vec::new();
        while photos.peek().is_some_and(|p| p.dossier_id < row.id) {
            photos.next();
        }
        while let Some(p) = photos.next_if(|p| p.dossier_id == row.id) {
            own.push(RemotePhoto {
                sha256: p.sha256,
                face_model: p.face_model,
                face_vector: p.face_vector.as_deref().map(super::encode_vector),
            });
        }
        if row.in_list {
            upserts.push(RemoteDossier {
                id: row.id,
                name: row.name,
                comment: row.comment,
                active: row.active,
                meta: row.meta,
                photos: own,
            });
        }
    }
    let upserted: std::collections::HashSet<i64> = upserts.iter().map(|d| d.id).collect();
    let removals = ids
        .into_iter()
        .filter(|id| !upserted.contains(id))
        .collect();
    (upserts, removals)
}

#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error(transparent)]
    TooOld(CursorTooOld),
    #[error(transparent)]
    App(#[from] Error),
}

/// The SQL of a list's digest; `$1` is the list, `key` the expression of the Leader id.
/// Vectors enter it by PostgreSQL's own 64-bit array hash (`hash_array_extended`, the hash of
/// hash indexes): a sixth of the time of hashing their binary form (`array_send` builds a
/// buffer element by element: 4.4 s against 0.7 s for 100 000 vectors of 512 floats), and a
/// divergence it cannot see (a zero of the other sign) is no divergence for face matching.
pub fn digest_sql(from: &str, key: &str) -> String {
    format!(
        "SELECT count(*) AS dossiers, coalesce(md5(string_agg(x.h, '' ORDER BY x.k)), '') AS digest
         FROM (
            SELECT {key} AS k, md5(concat_ws('|', {key}, d.name, d.comment, d.active, d.meta::text,
                (SELECT string_agg(encode(p.image_sha256, 'hex') || ':' || coalesce(p.face_model, '')
                        || ':' || coalesce(hash_array_extended(p.face_vector, 0)::text, ''), ',' ORDER BY p.id)
                 FROM photos p WHERE p.dossier_id = d.id))) AS h
            {from}
         ) AS x"
    )
}

/// The digest of a list now, with the watermark it is valid at. The writers' lock is held for
/// the computation, so no change can slip between the watermark and the digest.
pub async fn digest(pool: &PgPool, list: i64) -> Result<ListDigest> {
    list_settings(pool, list).await?;
    let mut tx = pool.begin().await?;
    let (until, _) = lock_watermark(&mut tx).await?;
    let (dossiers, digest): (i64, String) = sqlx::query_as(&digest_sql(
        "FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id WHERE m.watch_list_id = $1",
        "d.id",
    ))
    .bind(list)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ListDigest {
        until,
        dossiers,
        digest,
    })
}

/// Image records for the hashes asked, in a simple framing: for each image, the 32-byte hash,
/// then four length-prefixed (u32, big-endian) fields: content type, width and height as text
/// "WxH", the bytes, the thumbnail. Unknown hashes are skipped.
pub async fn images(pool: &PgPool, hashes: &[String]) -> Result<Vec<u8>> {
    let hashes: Vec<Vec<u8>> = hashes.iter().filter_map(|h| hex::decode(h).ok()).collect();
    struct StoredImage {
        sha256: Vec<u8>,
        content_type: String,
        width: i32,
        height: i32,
        data: Vec<u8>,
        thumbnail: Vec<u8>,
    }
    let rows = sqlx::query_as!(
        StoredImage,
        "SELECT sha256, content_type, width, height, data, thumbnail
         FROM images WHERE sha256 = ANY($1)",
        &hashes
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(
        rows.iter()
            .map(|r| r.data.len() + r.thumbnail.len() + 64)
            .sum(),
    );
    for image in &rows {
        super::frames::write(
            &mut out,
            super::frames::Frame {
                sha256: &image.sha256,
                content_type: &image.content_type,
                width: image.width,
                height: image.height,
                data: &image.data,
                thumbnail: &image.thumbnail,
            },
        );
    }
    Ok(out)
}
