//! Housekeeping the installation does by itself, once at start-up and then hourly: sessions
//! that can no longer be used are deleted, audit entries and events (with the hits outbox's
//! entries of them) older than their retention periods, and the coming days' partitions of
//! events are made.

use crate::monitoring::partitions::{self, KnownDays};
use crate::workers::{Context, Worker};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(3600);

/// What housekeeping keeps, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// A session ends after this many minutes without a request (0: only after its two weeks).
    pub session_idle_minutes: i32,
    pub audit_days: i32,
    pub events_days: i32,
}

/// The housekeeping, as a worker.
pub struct Housekeeping {
    pool: PgPool,
    retention: Retention,
    days: Arc<KnownDays>,
    ticks: tokio::time::Interval,
}

impl Housekeeping {
    /// Housekeeping over `pool`; `days` are the partitions of events this process knows.
    pub fn new(pool: PgPool, retention: Retention, days: Arc<KnownDays>) -> Self {
        Self {
            pool,
            retention,
            days,
            ticks: tokio::time::interval(EVERY),
        }
    }
}

impl Worker for Housekeeping {
    const NAME: &'static str = "housekeeping";

    async fn due(&mut self) {
        self.ticks.tick().await;
    }

    async fn pass(&mut self, _: &Context) {
        tidy(&self.pool, self.retention, &self.days).await;
    }
}

/// One round; a failure is logged and tried again at the next round.
pub async fn tidy(pool: &PgPool, retention: Retention, days: &KnownDays) {
    match crate::auth::sessions::prune(pool, retention.session_idle_minutes).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(sessions = n, "expired sessions deleted"),
        Err(e) => tracing::warn!(error = %e, "cannot delete expired sessions"),
    }
    match crate::audit::purge(pool, retention.audit_days).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            entries = n,
            days = retention.audit_days,
            "old audit entries deleted"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot delete old audit entries"),
    }
    match partitions::tidy(pool, days, retention.events_days).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            days = n,
            retention = retention.events_days,
            "old days of events dropped"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot tidy the events' partitions"),
    }
    match crate::hits::outbox::prune(pool, retention.events_days).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(entries = n, "old entries of the hits outbox deleted"),
        Err(e) => tracing::warn!(error = %e, "cannot tidy the hits outbox"),
    }
}
