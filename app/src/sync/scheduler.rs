//! Runs replicas when they are due: on the RRULE schedule, at start-up or creation if so
//! configured, on "sync now", and after a failure's backoff. Each server process has one
//! scheduler; the per-replica claim keeps two processes from running the same replica.

use super::subscriber::{self, RunOutcome};
use crate::state::AppState;
use chrono::Utc;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Notify;

/// Longest sleep: a replica made due by another process is noticed within this.
const MAX_SLEEP: Duration = Duration::from_secs(30);

fn bell() -> &'static Notify {
    static BELL: OnceLock<Notify> = OnceLock::new();
    BELL.get_or_init(Notify::new)
}

/// Asks the scheduler to look for due replicas now.
pub fn wake() {
    bell().notify_one();
}

/// Starts the scheduler in the background.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = subscriber::close_interrupted_runs(&state.pool).await {
            tracing::error!(error = %e, "could not close interrupted runs");
        }
        if state.settings.sync.at_startup {
            let _ = sqlx::query("UPDATE replicas SET next_run_at = now()")
                .execute(&state.pool)
                .await;
        }
        // Replicas created before a schedule change get a time from the current schedule.
        let _ = sqlx::query("UPDATE replicas SET next_run_at = $1 WHERE next_run_at IS NULL")
            .bind(state.settings.sync.next_run(Utc::now()))
            .execute(&state.pool)
            .await;
        let mut last_prune: Option<std::time::Instant> = None;
        loop {
            // As a Leader: keep the change log bounded (hourly is plenty).
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_prune = Some(std::time::Instant::now());
                if let Err(e) = super::leader::prune_tombstones(
                    &state.pool,
                    super::leader::TOMBSTONE_RETENTION_DAYS,
                )
                .await
                {
                    tracing::error!(error = %e, "cannot prune tombstones");
                }
            }
            run_due(&state).await;
            let sleep = until_next(&state).await;
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = bell().notified() => {}
            }
        }
    })
}

async fn run_due(state: &AppState) {
    let due: Vec<i64> = match sqlx::query_scalar(
        "SELECT id FROM replicas WHERE next_run_at <= now() ORDER BY next_run_at",
    )
    .fetch_all(&state.pool)
    .await
    {
        Ok(ids) => ids,
        Err(e) => {
            tracing::error!(error = %e, "cannot read due replicas");
            return;
        }
    };
    for id in due {
        match subscriber::run(state, id).await {
            Ok(RunOutcome::Busy) => tracing::debug!(replica = id, "run by another process"),
            Ok(outcome) => tracing::info!(replica = id, ?outcome, "replication run finished"),
            Err(e) => tracing::warn!(replica = id, error = %e, "replication run failed"),
        }
    }
}

async fn until_next(state: &AppState) -> Duration {
    let next: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT min(next_run_at) FROM replicas")
            .fetch_one(&state.pool)
            .await
            .unwrap_or(None);
    match next {
        Some(at) => (at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_SLEEP),
        None => MAX_SLEEP,
    }
}
