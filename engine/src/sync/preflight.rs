//! What a run checks before it changes anything: that the Leader is the installation the
//! replica follows, whether the cursor still means something in the Leader's history (or a
//! full resync is needed, and why), and that the run would not remove most of a big replica.

use super::client::LeaderClient;
use super::error::SyncError;
use super::hold::{hold, Held};
use super::replicas::ReplicaRow;
use super::{ChangePage, LeaderInfo};
use crate::installation::{Installation, GUARDED_REPLICA_SIZE};
use sqlx::PgPool;
use std::collections::HashSet;

/// Whether the run may go on.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Go,
    Held,
}

/// The Leader at the replica's URL must be the installation the replica was made from: another
/// one (a re-installed Leader, a re-created database, a wrong address) holds the run until an
/// Administrator confirms. A replica made before Leaders had ids adopts the one it meets.
pub(super) async fn same_leader(
    pool: &PgPool,
    replica: &ReplicaRow,
    info: &LeaderInfo,
    attempt: i64,
) -> Result<Verdict, SyncError> {
    let new = &info.installation_id;
    match &replica.leader_installation {
        Some(known) if known == new => Ok(Verdict::Go),
        None => {
            sqlx::query!(
                "UPDATE replicas SET leader_installation = $2 WHERE id = $1",
                replica.id,
                new
            )
            .execute(pool)
            .await?;
            Ok(Verdict::Go)
        }
        Some(known) => {
            let message = format!(
                "another installation answers at {url}: {new}, while this replica follows {known}. \
                 Nothing was changed here. If the Leader was re-installed or its database re-created \
                 on purpose, confirm to resync from it; otherwise reject and check the address.",
                url = replica.remote_url
            );
            let held = Held::LeaderChanged { installation: new };
            hold(pool, replica.id, attempt, held, &message).await?;
            Ok(Verdict::Held)
        }
    }
}

/// Why a new run must be a clean full resync, if it must: nothing synced yet, a resync asked for
/// (a divergence, a new Leader confirmed), or a cursor that no longer means anything in the
/// Leader's history.
pub(super) fn full_resync_reason(replica: &ReplicaRow, info: &LeaderInfo) -> Option<String> {
    if let Some(reason) = &replica.resync_reason {
        return Some(reason.clone());
    }
    if replica.cursor == 0 {
        return Some("first sync".into());
    }
    if replica
        .leader_epoch
        .as_ref()
        .is_some_and(|epoch| epoch != &info.epoch)
    {
        return Some(format!(
            "the Leader's history went back (restored from a backup?): its epoch is now {}, this replica's cursor {} belongs to epoch {}",
            info.epoch,
            replica.cursor,
            replica.leader_epoch.as_deref().unwrap_or_default()
        ));
    }
    if replica.cursor > info.revision {
        return Some(format!(
            "this replica's cursor {} is ahead of the Leader's last revision {}: the Leader's history went back",
            replica.cursor, info.revision
        ));
    }
    None
}

/// The mass-removal guard, on the first page of a new run (before anything is applied): a run
/// that would remove more than `SYNC_MAX_DELETE_RATIO` of a replica of more than
/// [`GUARDED_REPLICA_SIZE`] dossiers is held, unless an Administrator confirmed as many.
pub(super) async fn removals_allowed(
    inst: &Installation,
    client: &LeaderClient,
    replica: &ReplicaRow,
    first: &ChangePage,
    attempt: i64,
) -> Result<Verdict, SyncError> {
    let pool = &inst.pool;
    let ratio = inst.settings.sync.max_delete_ratio;
    // A hold needs more than `ratio` of more than GUARDED_REPLICA_SIZE dossiers to go: an
    // incremental run removing fewer cannot be held, and need not count the replica (its cost
    // follows the changes, not the size of the list).
    if !replica.run_full
        && first
            .removals_total
            .is_some_and(|r| r as f64 <= ratio * GUARDED_REPLICA_SIZE as f64)
    {
        return Ok(Verdict::Go);
    }
    let size: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM dossier_watch_lists WHERE watch_list_id = $1"#,
        replica.watch_list_id
    )
    .fetch_one(pool)
    .await?;
    if size <= GUARDED_REPLICA_SIZE {
        return Ok(Verdict::Go);
    }
    let allowed = (ratio * size as f64).floor() as i64;
    // An incremental run knows at most how many removals it carries; only when that bound is
    // over the limit is the Leader asked for its whole list, to count exactly.
    let bound = if replica.run_full {
        size
    } else {
        first.removals_total.unwrap_or(size)
    };
    if bound <= allowed {
        return Ok(Verdict::Go);
    }
    let removals = exact_removals(pool, client, replica).await?;
    if removals <= allowed || replica.confirmed_removals.is_some_and(|c| removals <= c) {
        return Ok(Verdict::Go);
    }
    let message = format!(
        "this run would remove {removals} of the {size} dossiers of the replica ({percent:.0} %, more than SYNC_MAX_DELETE_RATIO = {ratio:.0} %). \
         Nothing was changed here. Confirm if the Leader's list really lost them; otherwise reject, and the replica stays as it is.",
        percent = removals as f64 * 100.0 / size as f64,
        ratio = ratio * 100.0,
    );
    hold(
        pool,
        replica.id,
        attempt,
        Held::MassRemoval { removals },
        &message,
    )
    .await?;
    Ok(Verdict::Held)
}

/// How many dossiers of the replica the Leader's list does not have: exactly what the replica
/// loses once the run has converged.
async fn exact_removals(
    pool: &PgPool,
    client: &LeaderClient,
    replica: &ReplicaRow,
) -> Result<i64, SyncError> {
    let leader: HashSet<i64> = client
        .members(replica.remote_list_id)
        .await?
        .into_iter()
        .collect();
    let local: Vec<Option<i64>> = sqlx::query_scalar!(
        "SELECT r.remote_id AS \"remote_id?\" FROM dossier_watch_lists m
         LEFT JOIN remote_dossiers r ON r.dossier_id = m.dossier_id AND r.remote_url = $2
         WHERE m.watch_list_id = $1",
        replica.watch_list_id,
        replica.remote_url
    )
    .fetch_all(pool)
    .await?;
    Ok(local
        .into_iter()
        .filter(|id| id.is_none_or(|id| !leader.contains(&id)))
        .count() as i64)
}
