//! The replica's side of a verification: its digest, keyed by Leader ids, computed as the
//! Leader's (`feed::digest`) is, to compare with it (`plan::compare`).

use super::error::SyncError;
use super::feed::digest_sql;
use super::state::RunState;
use super::ListDigest;
use sqlx::PgPool;

/// The replica's digest, said to be valid at `cursor` (the run's watermark).
pub(super) async fn local_digest(
    pool: &PgPool,
    replica: &RunState,
    cursor: i64,
) -> Result<ListDigest, SyncError> {
    let (dossiers, digest): (i64, String) = sqlx::query_as(&digest_sql(
        "FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id
         JOIN remote_dossiers r ON r.dossier_id = d.id AND r.remote_url = $2
         WHERE m.watch_list_id = $1",
        "r.remote_id",
    ))
    .bind(replica.watch_list_id)
    .bind(&replica.remote_url)
    .fetch_one(pool)
    .await?;
    Ok(ListDigest {
        until: cursor,
        dossiers,
        digest,
    })
}
