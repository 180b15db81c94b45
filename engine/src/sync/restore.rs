//! Dossiers deleted on a Subscriber from a replicated list (allowed only while the Leader cannot
//! be reached, to stop an alert, say) come back with the next successful run, photos and
//! vectors included, without waiting for a digest check: the deletion leaves a note of the
//! Leader's id, and the run asks the Leader for exactly those dossiers (`run`).

use crate::error::Result;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// Dossiers asked for by id in one request.
pub const BATCH: usize = 500;

/// Notes, in the deleting transaction, which replicas the dossier is about to leave and its id
/// on their Leader (the mapping goes with the dossier).
pub async fn remember_deletion(tx: &mut Transaction<'_, Postgres>, dossier: i64) -> Result<()> {
    sqlx::query!(
        "INSERT INTO replica_restores (replica_id, remote_id)
         SELECT r.id, rd.remote_id FROM dossier_watch_lists m
         JOIN replicas r ON r.watch_list_id = m.watch_list_id
         JOIN remote_dossiers rd ON rd.dossier_id = m.dossier_id AND rd.remote_url = r.remote_url
         WHERE m.dossier_id = $1
         ON CONFLICT DO NOTHING",
        dossier
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The Leader ids of the dossiers deleted here from the replica, waiting to be put back.
pub(super) async fn deleted(pool: &PgPool, replica: i64) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar!(
        "SELECT remote_id FROM replica_restores WHERE replica_id = $1 ORDER BY remote_id",
        replica
    )
    .fetch_all(pool)
    .await?)
}

/// The Leader answered for these: they no longer wait (those it still has are back).
pub(super) async fn forget(db: &mut PgConnection, replica: i64, asked: &[i64]) -> Result<()> {
    sqlx::query!(
        "DELETE FROM replica_restores WHERE replica_id = $1 AND remote_id = ANY($2)",
        replica,
        asked
    )
    .execute(db)
    .await?;
    Ok(())
}
