//! Runs replicas when they are due: on the RRULE schedule, at start-up or creation if so
//! configured, on "sync now", and after a failure's backoff. Each server process has one
//! scheduler, a worker of the installation's runtime; the per-replica claim keeps two
//! processes from running the same replica.
//!
//! Due replicas run concurrently, at most `SYNC_CONCURRENCY` at once and one at a time per
//! Leader, so one slow Leader does not hold back the others. Each run is a job of the worker, in
//! a span of its own; a run that panics is counted as the worker's panic and its replica simply
//! runs again when due. At a stop, each run ends after the page it is applying (it watches the
//! installation's stop token) and the scheduler waits for them.

use super::feed::{prune_tombstones, TOMBSTONE_RETENTION_DAYS};
use super::run::{close_interrupted_runs, run, RunOutcome};
use super::Replication;
use crate::workers::{panic_message, Context, Worker};
use chrono::Utc;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tracing::Instrument;

/// Longest sleep: a replica made due by another process is noticed within this.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// A replica another process is running is looked at again after this.
const BUSY_RETRY: Duration = Duration::from_secs(5);
/// As a Leader: how often the change log is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The replication scheduler, as a worker.
pub struct Scheduler {
    sync: Replication,
    runs: Runs,
    /// Runs that ended since the last pass, to be booked by it.
    ended: Vec<Ended>,
    prepared: bool,
    last_prune: Option<Instant>,
    /// How long until the next pass, as the last one worked out.
    sleep: Duration,
}

type Ended = Result<(tokio::task::Id, bool), tokio::task::JoinError>;

impl Scheduler {
    pub fn new(sync: Replication) -> Self {
        Self {
            sync,
            runs: Runs::default(),
            ended: Vec::new(),
            prepared: false,
            last_prune: None,
            sleep: Duration::ZERO,
        }
    }
}

impl Worker for Scheduler {
    const NAME: &'static str = "replication-scheduler";

    async fn due(&mut self) {
        tokio::select! {
            _ = tokio::time::sleep(self.sleep) => {}
            _ = self.sync.bell.rung() => {}
            Some(done) = self.runs.tasks.join_next_with_id(), if !self.runs.tasks.is_empty() => {
                self.ended.push(done);
            }
        }
    }

    async fn pass(&mut self, context: &Context) {
        for done in std::mem::take(&mut self.ended) {
            self.runs.finished(context, done);
        }
        if !self.prepared {
            prepare(&self.sync).await;
            self.prepared = true;
        }
        // As a Leader: keep the change log bounded.
        if self.last_prune.is_none_or(|t| t.elapsed() > PRUNE_EVERY) {
            self.last_prune = Some(Instant::now());
            if let Err(e) = prune_tombstones(&self.sync.pool, TOMBSTONE_RETENTION_DAYS).await {
                tracing::error!(error = %e, "cannot prune tombstones");
            }
        }
        let limit = self.sync.settings.concurrency.get() as usize;
        let excluded = self.runs.excluded();
        let free = limit.saturating_sub(self.runs.tasks.len());
        if free > 0 && !context.stop.is_cancelled() {
            for id in due(&self.sync, &excluded, &self.runs.running(), free).await {
                self.runs.start(&self.sync, id);
            }
        }
        self.sleep = until_next(&self.sync, &self.runs.excluded(), &self.runs.running()).await;
    }

    /// The runs end after their current page (they watch the same stop token); each records
    /// where it stopped, and resumes there at the next start.
    async fn drain(&mut self, context: &Context) {
        for done in std::mem::take(&mut self.ended) {
            self.runs.finished(context, done);
        }
        while let Some(done) = self.runs.tasks.join_next_with_id().await {
            self.runs.finished(context, done);
        }
    }
}

/// Once per start: close the runs a dead process left open, and give every replica its time.
async fn prepare(sync: &Replication) {
    if let Err(e) = close_interrupted_runs(&sync.pool).await {
        tracing::error!(error = %e, "could not close interrupted runs");
    }
    if sync.settings.at_startup {
        let _ = sqlx::query!("UPDATE replicas SET next_run_at = now() WHERE state <> 'held'")
            .execute(&sync.pool)
            .await;
    }
    // Replicas created before a schedule change get a time from the current schedule.
    let _ = sqlx::query!(
        "UPDATE replicas SET next_run_at = $1 WHERE next_run_at IS NULL AND state <> 'held'",
        sync.settings.next_run(Utc::now())
    )
    .execute(&sync.pool)
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

    fn start(&mut self, sync: &Replication, id: i64) {
        let span = tracing::info_span!("replica_run", replica = id, run = tracing::field::Empty);
        let sync = sync.clone();
        let task = self.tasks.spawn(
            async move {
                let held_elsewhere = matches!(run(&sync, id).await, Ok(RunOutcome::Busy));
                if held_elsewhere {
                    tracing::debug!("run by another process");
                }
                held_elsewhere
            }
            .instrument(span),
        );
        self.replica_of_task.insert(task.id(), id);
    }

    /// Books a finished run; a panic is logged and counted as the worker's.
    fn finished(&mut self, context: &Context, done: Ended) {
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
                context.health.count_panic();
                tracing::error!(replica = ?replica, panic = %panic_message(e.into_panic()), "a replication run panicked");
            }
            Err(_) => {}
        }
    }
}

/// Due replicas, longest waiting first, leaving out `excluded`, and at most one per Leader,
/// none of a Leader that a `running` replica is syncing from: runs are concurrent across
/// Leaders, one after another for each Leader. A Leader's feed is rationed anyway, and two
/// lists of one Leader share their dossiers, which two concurrent runs would both insert.
async fn due(sync: &Replication, excluded: &[i64], running: &[i64], limit: usize) -> Vec<i64> {
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
    .fetch_all(&sync.pool)
    .await
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read due replicas");
        Vec::new()
    })
}

/// How long until the next replica that `due` could start is due (at most `MAX_SLEEP`; while
/// runs go on, or a replica was held elsewhere, at most `BUSY_RETRY`). A run that ends wakes
/// the loop by itself.
async fn until_next(sync: &Replication, excluded: &[i64], running: &[i64]) -> Duration {
    let next = sqlx::query_scalar!(
        "SELECT min(next_run_at) FROM replicas WHERE NOT (id = ANY($1))
           AND remote_url NOT IN (SELECT remote_url FROM replicas WHERE id = ANY($2))",
        excluded,
        running
    )
    .fetch_one(&sync.pool)
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
