//! Dossiers deleted on a Subscriber from a replicated list (allowed only while the Leader cannot
//! be reached, to stop an alert, say) come back with the next successful run, photos and
//! vectors included, without waiting for a digest check: the deletion leaves a note of the
//! Leader's id, and the run asks the Leader for exactly those dossiers.

use super::apply::commit_restore;
use super::client::LeaderClient;
use super::error::SyncError;
use super::fetch::fetch_chosen;
use super::replicas::ReplicaRow;
use crate::error::Result;
use sqlx::{PgPool, Postgres, Transaction};

/// Dossiers asked for by id in one request.
const BATCH: usize = 500;

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

/// Puts back what was deleted here from the replica, as the Leader has it now (a dossier the
/// Leader no longer has stays gone). Returns how many came back.
pub(super) async fn restore_deleted(
    pool: &PgPool,
    client: &LeaderClient,
    replica: &ReplicaRow,
    attempt: i64,
) -> Result<i64, SyncError> {
    let deleted: Vec<i64> = sqlx::query_scalar!(
        "SELECT remote_id FROM replica_restores WHERE replica_id = $1 ORDER BY remote_id",
        replica.id
    )
    .fetch_all(pool)
    .await?;
    let mut restored = 0;
    for asked in deleted.chunks(BATCH) {
        let (page, photos) = fetch_chosen(pool, client, replica.remote_list_id, asked).await?;
        super::run::same_epoch(pool, replica, &page).await?;
        restored += commit_restore(pool, replica, attempt, (&page, photos), asked).await?;
    }
    Ok(restored)
}
