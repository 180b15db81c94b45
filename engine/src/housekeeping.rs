//! Housekeeping the installation does by itself, once at start-up and then hourly: sessions
//! that can no longer be used are deleted, audit entries and events older than their retention
//! periods, and the coming days' partitions of events are made.

use crate::installation::Installation;
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(3600);

/// Runs the housekeeping for the life of the server.
pub fn spawn(inst: Installation) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            ticks.tick().await;
            tidy(&inst).await;
        }
    })
}

/// One round; a failure is logged and tried again at the next round.
pub async fn tidy(inst: &Installation) {
    let settings = &inst.settings;
    match crate::auth::sessions::prune(&inst.pool, settings.sessions.idle_minutes).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(sessions = n, "expired sessions deleted"),
        Err(e) => tracing::warn!(error = %e, "cannot delete expired sessions"),
    }
    match crate::audit::purge(&inst.pool, settings.audit_retention_days).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            entries = n,
            days = settings.audit_retention_days,
            "old audit entries deleted"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot delete old audit entries"),
    }
    let days = settings.events_retention_days;
    match crate::monitoring::partitions::tidy(&inst.pool, &inst.monitor.days, days).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(days = n, retention = days, "old days of events dropped"),
        Err(e) => tracing::warn!(error = %e, "cannot tidy the events' partitions"),
    }
}
