//! One run of a replica: claim it, pull the Leader's changes page by page (fetched by `fetch`,
//! committed by `apply`), finish by moving the cursor, then verify (`verify`). A failure is
//! recorded with a backoff; the run's recorded progress lets the next one resume.

use super::apply::{commit_page, sweep_unseen, unaudited};
use super::client::LeaderClient;
use super::error::SyncError;
use super::fetch::Fetcher;
use super::locks;
use super::preflight::{full_resync_reason, removals_allowed, same_leader, Verdict};
use super::replicas::{check_model, check_not_self, ReplicaRow};
use super::restore::restore_deleted;
use super::verify::verify;
use super::{ChangePage, LeaderInfo, RunOutcomeKind};
use crate::error::Result;
use crate::installation::Installation;
use chrono::Utc;
use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Another process is running this replica.
    Busy,
    /// Completed; the replica matches the Leader's digest (or the Leader moved on meanwhile).
    Done { cursor: i64 },
    /// Completed, but the digests differ: a full resync is scheduled at once.
    Diverged { cursor: i64 },
    /// Stopped before changing anything, for an Administrator to decide (see `hold`).
    Held,
}

/// Runs one replica to completion, unless another process holds it. The claim is a session
/// advisory lock on a connection of its own: if this process dies, the connection closes and
/// the claim is gone with it.
pub async fn run(inst: &Installation, id: i64) -> Result<RunOutcome, SyncError> {
    let mut claim = inst.pool.acquire().await?.detach();
    let claimed: bool = sqlx::query_scalar(locks::TRY_CLAIM_REPLICA)
        .bind(id)
        .fetch_one(&mut claim)
        .await?;
    if !claimed {
        return Ok(RunOutcome::Busy);
    }
    // With the claim held, a run of this replica still marked running belongs to a process that
    // died; the startup sweep misses it when the dead process's connection outlives that sweep.
    sqlx::query!(
        "UPDATE sync_runs SET outcome = $2, finished_at = now()
         WHERE replica_id = $1 AND outcome = $3",
        id,
        RunOutcomeKind::Interrupted.as_str(),
        RunOutcomeKind::Running.as_str()
    )
    .execute(&inst.pool)
    .await?;
    let attempt: i64 = {
        let row = ReplicaRow::load(&inst.pool, id).await?;
        sqlx::query_scalar!(
            "INSERT INTO sync_runs (replica_id, full_resync, cursor_from) VALUES ($1, $2, $3) RETURNING id",
            id,
            row.run_full || row.cursor == 0,
            row.cursor,
        )
        .fetch_one(&inst.pool)
        .await?
    };
    tracing::Span::current().record("run", attempt);
    let result = run_claimed(inst, id, attempt).await;
    if let Ok(outcome) = &result {
        tracing::info!(?outcome, "replication run finished");
    }
    if let Err(error) = &result {
        record_failure(&inst.pool, id, attempt, error).await?;
    }
    // Closing the connection releases the claim.
    drop(claim);
    result
}

async fn run_claimed(inst: &Installation, id: i64, attempt: i64) -> Result<RunOutcome, SyncError> {
    let pool = &inst.pool;
    let replica = ReplicaRow::load(pool, id).await?;
    let client = LeaderClient::new(
        &replica.remote_url,
        &inst.settings.sync.token,
        inst.settings.sync.request_timeout,
    )?
    .with_page_size(inst.settings.sync.page_size);
    let info = client.info().await?;
    check_model(&info, &inst.settings.face_model)?;
    check_not_self(&info, &super::history::installation_id(pool).await?)?;
    if same_leader(pool, &replica, &info, attempt).await? == Verdict::Held {
        return Ok(RunOutcome::Held);
    }
    let replica = start(pool, ReplicaRow::load(pool, id).await?, attempt, &info).await?;
    let Some(replica) = pull(inst, &client, replica, attempt).await? else {
        return Ok(RunOutcome::Held);
    };
    restore_deleted(pool, &client, &replica, attempt).await?;
    let cursor = finish(inst, &replica, attempt).await?;
    Ok(if verify(inst, &client, &replica, attempt, cursor).await? {
        RunOutcome::Diverged { cursor }
    } else {
        RunOutcome::Done { cursor }
    })
}

/// Marks the replica running. A new run starts its progress afresh, as a clean full resync when
/// the cursor means nothing any more (and the run's history says why). An interrupted run
/// resumes, unless the Leader's history changed since: its pages belong to the old one.
async fn start(
    pool: &PgPool,
    mut replica: ReplicaRow,
    attempt: i64,
    info: &LeaderInfo,
) -> Result<ReplicaRow, SyncError> {
    let resumable =
        replica.run_id.is_some() && replica.run_epoch.as_deref() == Some(info.epoch.as_str());
    let reason = if resumable {
        Some(match &replica.resync_reason {
            Some(why) => format!("{why}; resumes an interrupted run"),
            None => "resumes an interrupted run".into(),
        })
    } else {
        let why = full_resync_reason(&replica, info);
        // A full resync removes at its end what it did not see, unless the list is empty now.
        sqlx::query!(
            "UPDATE replicas SET run_id = $2, run_full = $3, run_epoch = $4, resync_reason = $5,
                 run_sweep = EXISTS (SELECT 1 FROM dossier_watch_lists m
                                     WHERE m.watch_list_id = replicas.watch_list_id),
                 run_until = NULL, run_after = 0, items_done = 0, items_total = NULL, photos_done = 0
             WHERE id = $1",
            replica.id,
            attempt,
            why.is_some(),
            info.epoch,
            why
        )
        .execute(pool)
        .await?;
        replica = ReplicaRow::load(pool, replica.id).await?;
        why
    };
    sqlx::query!(
        "UPDATE sync_runs SET full_resync = $2, reason = $3 WHERE id = $1",
        attempt,
        replica.run_full,
        reason
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "UPDATE replicas SET state = 'running' WHERE id = $1",
        replica.id
    )
    .execute(pool)
    .await?;
    Ok(replica)
}

/// A page of another epoch than the run's: the Leader's history changed under the run (it was
/// restored from a backup meanwhile). The run's progress is dropped, and the next run, seeing
/// the new epoch, resyncs from scratch.
pub(super) async fn same_epoch(
    pool: &PgPool,
    replica: &ReplicaRow,
    page: &ChangePage,
) -> Result<(), SyncError> {
    if replica.run_epoch.as_deref() == Some(page.epoch.as_str()) {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE replicas SET run_id = NULL, run_until = NULL, run_after = 0, run_epoch = NULL
         WHERE id = $1",
        replica.id
    )
    .execute(pool)
    .await?;
    Err(SyncError::HistoryChanged)
}

/// Pulls and commits every page of the run. The first page is checked before anything is
/// stored (the mass-removal guard); then pages are fetched ahead while the current one is
/// applied (see `fetch::Fetcher`). `None` when the guard held the run.
async fn pull(
    inst: &Installation,
    client: &LeaderClient,
    mut replica: ReplicaRow,
    attempt: i64,
) -> Result<Option<ReplicaRow>, SyncError> {
    let pool = &inst.pool;
    'run: loop {
        let since = if replica.run_full { 0 } else { replica.cursor };
        let list = replica.remote_list_id;
        let first = client
            .changes(list, since, replica.run_until, replica.run_after)
            .await;
        let first = match first {
            Err(SyncError::CursorTooOld(_)) if !replica.run_full => {
                replica = resync_from_scratch(pool, &replica, since, attempt).await?;
                continue 'run;
            }
            other => other?,
        };
        same_epoch(pool, &replica, &first).await?;
        if replica.run_until.is_none() {
            if removals_allowed(inst, client, &replica, &first, attempt).await? == Verdict::Held {
                return Ok(None);
            }
            sqlx::query!(
                "UPDATE replicas SET run_until = $2, items_total = $3 WHERE id = $1",
                replica.id,
                first.until,
                first.total
            )
            .execute(pool)
            .await?;
            replica.run_until = Some(first.until);
        }
        let mut pages = Fetcher::start(pool, client, &replica, since, first);
        while let Some(fetched) = pages.next().await {
            let (page, photos) = match fetched {
                Err(SyncError::CursorTooOld(_)) if !replica.run_full => {
                    replica = resync_from_scratch(pool, &replica, since, attempt).await?;
                    continue 'run;
                }
                other => other?,
            };
            same_epoch(pool, &replica, &page).await?;
            let after = page.next_after.unwrap_or_else(|| {
                page.upserts
                    .iter()
                    .map(|d| d.id)
                    .chain(page.removals.iter().copied())
                    .max()
                    .unwrap_or(replica.run_after)
            });
            commit_page(pool, &replica, attempt, (&page, photos), after).await?;
            replica.run_after = after;
        }
        return Ok(Some(replica));
    }
}

/// The Leader can no longer serve changes since the cursor (its tombstones are pruned): the run
/// becomes a clean full resync, and says why.
async fn resync_from_scratch(
    pool: &PgPool,
    replica: &ReplicaRow,
    since: i64,
    attempt: i64,
) -> Result<ReplicaRow, SyncError> {
    tracing::warn!(
        replica = replica.id,
        cursor = since,
        "cursor too old; full resync"
    );
    let why = format!(
        "the Leader no longer keeps its changes since revision {since} (older ones are pruned)"
    );
    sqlx::query!(
        "UPDATE replicas SET run_full = TRUE, run_sweep = TRUE, run_until = NULL,
             run_after = 0, resync_reason = $2
         WHERE id = $1",
        replica.id,
        why
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "UPDATE sync_runs SET full_resync = TRUE, reason = $2 WHERE id = $1",
        attempt,
        why
    )
    .execute(pool)
    .await?;
    ReplicaRow::load(pool, replica.id).await
}

/// Ends a completed pull in one transaction: after a full resync, what the Leader no longer
/// sent is removed; the cursor moves to the run's watermark (in the run's epoch) and the next
/// run is scheduled.
async fn finish(inst: &Installation, replica: &ReplicaRow, attempt: i64) -> Result<i64, SyncError> {
    let cursor = replica.run_until.unwrap_or(replica.cursor);
    let run_id = replica.run_id.unwrap_or(attempt);
    let mut tx = inst.pool.begin().await?;
    unaudited(&mut tx).await?;
    if replica.run_full && replica.run_sweep {
        let swept = sweep_unseen(&mut tx, replica, run_id).await?;
        sqlx::query!(
            "UPDATE sync_runs SET removals = removals + $2 WHERE id = $1",
            attempt,
            swept
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        "UPDATE replicas SET cursor = $2, run_id = NULL, run_until = NULL, run_after = 0,
             run_full = FALSE, leader_epoch = run_epoch, run_epoch = NULL, resync_reason = NULL,
             confirmed_removals = NULL, state = 'idle', last_success_at = now(),
             last_error = NULL, failures = 0, next_run_at = $3
         WHERE id = $1",
        replica.id,
        cursor,
        inst.settings.sync.next_run(Utc::now())
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE sync_runs SET outcome = $3, finished_at = now(), cursor_to = $2 WHERE id = $1",
        attempt,
        cursor,
        RunOutcomeKind::Success.as_str()
    )
    .execute(&mut *tx)
    .await?;
    // The audit log's one entry for the run (its rows are not recorded one by one).
    sqlx::query!(
        "INSERT INTO audit_log (actor, action, subject_kind, subject_id, summary)
         SELECT 'replication of list ' || $2 || ' from Leader ' || $3, 'sync', 'watch_list',
                $4::bigint::text,
                format('%s run: %s dossier(s) written, %s removed, %s photo(s), %s restored',
                       CASE WHEN full_resync THEN 'full' ELSE 'incremental' END,
                       dossiers, removals, photos, restored)
         FROM sync_runs WHERE id = $1",
        attempt,
        replica.remote_list_id.to_string(),
        replica.remote_url,
        replica.watch_list_id,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(cursor)
}

/// After a failure: say what happened, keep the run's progress for the resume, and try again
/// after a backoff that doubles with each failure (30 s … 1 h).
async fn record_failure(
    pool: &PgPool,
    id: i64,
    attempt: i64,
    error: &SyncError,
) -> Result<(), SyncError> {
    let message = error.to_string();
    tracing::warn!(replica = id, error = %message, "replication run failed");
    let failures: Option<i32> = sqlx::query_scalar!(
        "UPDATE replicas SET state = 'failed', last_error = $2, last_error_at = now(),
             failures = failures + 1
         WHERE id = $1 RETURNING failures",
        id,
        &message
    )
    .fetch_optional(pool)
    .await?;
    let next = Utc::now() + backoff(failures.unwrap_or(1));
    sqlx::query!(
        "UPDATE replicas SET next_run_at = $2 WHERE id = $1",
        id,
        next
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "UPDATE sync_runs SET outcome = $3, finished_at = now(), error = $2 WHERE id = $1",
        attempt,
        &message,
        RunOutcomeKind::Failed.as_str()
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// How long to wait after the `failures`-th failure in a row: 30 s, doubling, at most 1 h.
pub fn backoff(failures: i32) -> chrono::Duration {
    let seconds = 30i64 << failures.clamp(1, 8).saturating_sub(1);
    chrono::Duration::seconds(seconds.min(3600))
}

/// Marks runs that were in progress when their process stopped, so the history does not show
/// them running forever. Their replicas resume from their recorded progress.
pub async fn close_interrupted_runs(pool: &PgPool) -> Result<()> {
    // Only runs no live process holds: a run's claim is an advisory lock.
    sqlx::query(&format!(
        "UPDATE sync_runs s SET outcome = $1, finished_at = now()
         WHERE s.outcome = $2 AND NOT EXISTS (
            SELECT 1 FROM pg_locks l WHERE {})",
        locks::claim_held("s.replica_id")
    ))
    .bind(RunOutcomeKind::Interrupted.as_str())
    .bind(RunOutcomeKind::Running.as_str())
    .execute(pool)
    .await?;
    Ok(())
}

/// The local lists a full sync is filling at this moment, in any process sharing the database:
/// replicas whose claim a live session holds (a run that died does not count, even before its
/// replica is marked) and whose run under that claim is a full one. The run is the replica's
/// latest: from its start to its verification, which reads the whole list on both sides and
/// may find the replica diverged and start over, so an index of it is worth building only
/// after that.
pub async fn lists_being_filled(pool: &PgPool) -> Result<Vec<i64>> {
    let lists = sqlx::query_scalar(&format!(
        "SELECT r.watch_list_id FROM replicas r
         WHERE EXISTS (SELECT 1 FROM pg_locks l WHERE {})
           AND (r.run_full AND r.run_id IS NOT NULL
                OR (SELECT s.full_resync FROM sync_runs s WHERE s.replica_id = r.id
                    ORDER BY s.id DESC LIMIT 1))",
        locks::claim_held("r.id")
    ))
    .fetch_all(pool)
    .await?;
    Ok(lists)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        let seconds: Vec<i64> = (0..=10).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(
            seconds,
            [30, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
        );
    }
}
