//! Runs replicas when they are due: on the RRULE schedule, at start-up or creation if so
//! configured, on "sync now", and after a failure's backoff. Each server process has one
//! scheduler; the per-replica claim keeps two processes from running the same replica.
//!
//! Due replicas run concurrently, at most `SYNC_CONCURRENCY` at once and one at a time per
//! Leader, so one slow Leader does not hold back the others. The scheduler is supervised: if its loop panics, the panic is
//! logged and counted (`/metrics`) and the loop starts again; a panicking run is counted too
//! and its replica is simply run again when due.

use super::bell::Scheduler;
use super::feed::{prune_tombstones, TOMBSTONE_RETENTION_DAYS};
use super::run::{close_interrupted_runs, run, RunOutcome};
use crate::installation::Installation;
use chrono::Utc;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

/// Longest sleep: a replica made due by another process is noticed within this.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// A replica another process is running is looked at again after this.
const BUSY_RETRY: Duration = Duration::from_secs(5);
/// Pause before the loop starts again after a panic, so a panic on every pass cannot spin.
const RESTART_DELAY: Duration = Duration::from_secs(1);
/// As a Leader: how often the change log is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Starts the supervised scheduler in the background. The handle ends only when the runtime
/// shuts down.
pub fn spawn(inst: Installation) -> JoinHandle<()> {
    let scheduler = inst.scheduler.clone();
    tokio::spawn(async move {
        prepare(&inst).await;
        supervise(&scheduler, || schedule(inst.clone())).await;
    })
}

/// Runs the loop `pass` makes, again after each panic (logged and counted); returns when a
/// pass ends without panicking or is cancelled.
async fn supervise<F, Fut>(scheduler: &Scheduler, pass: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(pass()).await {
            Err(e) if e.is_panic() => {
                scheduler.count_panic();
                tracing::error!(panic = %panic_message(e.into_panic()), "the replication scheduler panicked; restarting it");
                tokio::time::sleep(RESTART_DELAY).await;
            }
            _ => return,
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Once per start: close the runs a dead process left open, and give every replica its time.
async fn prepare(inst: &Installation) {
    if let Err(e) = close_interrupted_runs(&inst.pool).await {
        tracing::error!(error = %e, "could not close interrupted runs");
    }
    if inst.settings.sync.at_startup {
        let _ = sqlx::query!("UPDATE replicas SET next_run_at = now() WHERE state <> 'held'")
            .execute(&inst.pool)
            .await;
    }
    // Replicas created before a schedule change get a time from the current schedule.
    let _ = sqlx::query!(
        "UPDATE replicas SET next_run_at = $1 WHERE next_run_at IS NULL AND state <> 'held'",
        inst.settings.sync.next_run(Utc::now())
    )
    .execute(&inst.pool)
    .await;
}

/// The replicas this process is running, and those another process was running when looked at.
#[derive(Default)]
struct Runs {
    /// Each run says whether another process held its replica.
    tasks: JoinSet<bool>,
    replica_of_task: HashMap<tokio::task::Id, i64>,
    held_elsewhere: HashMap<i64, Instant>,
}

impl Runs {
    fn running(&self) -> Vec<i64> {
        self.replica_of_task.values().copied().collect()
    }

    /// Replicas not to start now: running here, or recently found running elsewhere.
    fn excluded(&mut self) -> Vec<i64> {
        let now = Instant::now();
        self.held_elsewhere.retain(|_, until| *until > now);
        self.replica_of_task
            .values()
            .chain(self.held_elsewhere.keys())
            .copied()
            .collect()
    }

    fn start(&mut self, inst: &Installation, id: i64) {
        let span = tracing::info_span!("replica_run", replica = id, run = tracing::field::Empty);
        let inst = inst.clone();
        let task = self.tasks.spawn(
            async move {
                let held_elsewhere = matches!(run(&inst, id).await, Ok(RunOutcome::Busy));
                if held_elsewhere {
                    tracing::debug!("run by another process");
                }
                held_elsewhere
            }
            .instrument(span),
        );
        self.replica_of_task.insert(task.id(), id);
    }

    /// Books a finished run; a panic is logged and counted.
    fn finished(
        &mut self,
        inst: &Installation,
        done: Result<(tokio::task::Id, bool), tokio::task::JoinError>,
    ) {
        let task = match &done {
            Ok((task, _)) => *task,
            Err(e) => e.id(),
        };
        let replica = self.replica_of_task.remove(&task);
        match done {
            Ok((_, true)) => {
                if let Some(id) = replica {
                    self.held_elsewhere.insert(id, Instant::now() + BUSY_RETRY);
                }
            }
            Ok((_, false)) => {}
            Err(e) if e.is_panic() => {
                inst.scheduler.count_panic();
                tracing::error!(replica = ?replica, panic = %panic_message(e.into_panic()), "a replication run panicked");
            }
            Err(_) => {}
        }
    }
}

async fn schedule(inst: Installation) {
    let limit = inst.settings.sync.concurrency.max(1);
    let mut runs = Runs::default();
    let mut last_prune: Option<Instant> = None;
    loop {
        // As a Leader: keep the change log bounded.
        if last_prune.is_none_or(|t| t.elapsed() > PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            if let Err(e) = prune_tombstones(&inst.pool, TOMBSTONE_RETENTION_DAYS).await {
                tracing::error!(error = %e, "cannot prune tombstones");
            }
        }
        let excluded = runs.excluded();
        let free = limit.saturating_sub(runs.tasks.len());
        if free > 0 {
            for id in due(&inst, &excluded, &runs.running(), free).await {
                runs.start(&inst, id);
            }
        }
        let sleep = until_next(&inst, &runs.excluded(), &runs.running()).await;
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = inst.scheduler.rung() => {}
            Some(done) = runs.tasks.join_next_with_id(), if !runs.tasks.is_empty() => {
                runs.finished(&inst, done);
            }
        }
    }
}

/// Due replicas, longest waiting first, leaving out `excluded`, and at most one per Leader,
/// none of a Leader that a `running` replica is syncing from: runs are concurrent across
/// Leaders, one after another for each Leader. A Leader's feed is rationed anyway, and two
/// lists of one Leader share their dossiers, which two concurrent runs would both insert.
async fn due(inst: &Installation, excluded: &[i64], running: &[i64], limit: usize) -> Vec<i64> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM (
               SELECT DISTINCT ON (remote_url) id, next_run_at FROM replicas
               WHERE next_run_at <= now() AND NOT (id = ANY($1))
                 AND remote_url NOT IN (SELECT remote_url FROM replicas WHERE id = ANY($2))
               ORDER BY remote_url, next_run_at
           ) AS due
           ORDER BY next_run_at LIMIT $3"#,
        excluded,
        running,
        limit as i64
    )
    .fetch_all(&inst.pool)
    .await
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read due replicas");
        Vec::new()
    })
}

/// How long until the next replica that `due` could start is due (at most `MAX_SLEEP`; while
/// runs go on, or a replica was held elsewhere, at most `BUSY_RETRY`). A run that ends wakes
/// the loop by itself.
async fn until_next(inst: &Installation, excluded: &[i64], running: &[i64]) -> Duration {
    let next = sqlx::query_scalar!(
        "SELECT min(next_run_at) FROM replicas WHERE NOT (id = ANY($1))
           AND remote_url NOT IN (SELECT remote_url FROM replicas WHERE id = ANY($2))",
        excluded,
        running
    )
    .fetch_one(&inst.pool)
    .await
    .unwrap_or(None);
    let cap = if excluded.is_empty() {
        MAX_SLEEP
    } else {
        MAX_SLEEP.min(BUSY_RETRY)
    };
    match next {
        Some(at) => (at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(cap),
        None => cap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn a_panicking_scheduler_is_counted_and_started_again() {
        let scheduler = Scheduler::default();
        let passes = Arc::new(AtomicU32::new(0));
        let counted = passes.clone();
        supervise(&scheduler, move || {
            let counted = counted.clone();
            async move {
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("the first pass fails");
                }
            }
        })
        .await;
        assert_eq!(passes.load(Ordering::SeqCst), 2);
        assert_eq!(scheduler.panics(), 1);
    }
}
