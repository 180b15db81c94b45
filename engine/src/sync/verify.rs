//! Verification after a run: the replica's digest against the Leader's, both keyed by Leader
//! ids. A difference schedules a full resync at once and says so in the replica's last error
//! and the run's history.

use super::client::LeaderClient;
use super::error::SyncError;
use super::feed::digest_sql;
use super::replicas::ReplicaRow;
use super::ListDigest;
use crate::installation::Installation;
use chrono::Utc;
use sqlx::PgPool;

/// Longest time between two verifications of a replica against the Leader's digest.
const VERIFY_EVERY_HOURS: i64 = 24;

/// Verification reads the whole list on both sides: after a full resync, and otherwise once a
/// day, so that an incremental run costs what changed, not what the list holds. Returns whether
/// the replica diverged.
pub(super) async fn verify(
    inst: &Installation,
    client: &LeaderClient,
    replica: &ReplicaRow,
    attempt: i64,
    cursor: i64,
) -> Result<bool, SyncError> {
    let pool = &inst.pool;
    let due = replica.run_full
        || replica
            .verified_at
            .is_none_or(|at| Utc::now() - at > chrono::Duration::hours(VERIFY_EVERY_HOURS));
    if !due {
        return Ok(false);
    }
    // The Leader's digest is comparable only if nothing changed there since our watermark.
    // Both sides compute at once: each reads the whole list.
    let (remote, local) = tokio::join!(
        client.digest(replica.remote_list_id),
        local_digest(pool, replica, cursor)
    );
    let remote = remote?;
    if remote.until != cursor {
        return Ok(false);
    }
    let local = local?;
    if local.dossiers == remote.dossiers && local.digest == remote.digest {
        sqlx::query!(
            "UPDATE replicas SET verified_at = now() WHERE id = $1",
            replica.id
        )
        .execute(pool)
        .await?;
        return Ok(false);
    }
    let message = format!(
        "divergence after the run: the Leader has {} dossier(s) (digest {}), this replica {} (digest {}); a full resync follows",
        remote.dossiers, remote.digest, local.dossiers, local.digest
    );
    tracing::warn!(replica = replica.id, "{message}");
    sqlx::query!(
        "UPDATE replicas SET cursor = 0, resync_reason = $2, last_error = $2, last_error_at = now(),
             next_run_at = now()
         WHERE id = $1",
        replica.id,
        &message,
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "UPDATE sync_runs SET error = $2 WHERE id = $1",
        attempt,
        &message
    )
    .execute(pool)
    .await?;
    inst.scheduler.wake();
    Ok(true)
}

async fn local_digest(
    pool: &PgPool,
    replica: &ReplicaRow,
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
