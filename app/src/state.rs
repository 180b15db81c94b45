//! What every server function reads from context: the database pool and the settings the app
//! itself needs. The server binary builds it from its configuration.

use crate::error::{AppError, AppResult};
use crate::sync::schedule::{SyncSchedule, DEFAULT_SCHEDULE};
use crate::sync::SyncToken;
use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use sqlx::PgPool;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub settings: Arc<AppSettings>,
}

/// The part of the installation's settings the app logic depends on.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// Name of the face model whose vectors this installation stores (`FACE_MODEL`).
    pub face_model: String,
    /// How many floats a vector of that model has (`FACE_VECTOR_LENGTH`).
    pub face_vector_length: usize,
    /// Largest accepted photo upload, in bytes (`UPLOAD_LIMIT`).
    pub upload_limit: usize,
    /// Whether the replication screens are shown (`SYNC_WEB_UI`).
    pub sync_web_ui: bool,
    pub sync: SyncSettings,
}

/// How this installation replicates.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// `SYNC_TOKEN`; replication is off while it is empty.
    pub token: SyncToken,
    /// `SYNC_SCHEDULE` read in `SYNC_TIMEZONE`.
    pub schedule: SyncSchedule,
    pub at_startup: bool,
    pub at_creation: bool,
    /// How long one request to a Leader may take during a run.
    pub request_timeout: std::time::Duration,
}

impl SyncSettings {
    /// The next scheduled run after `now`, if the schedule has one.
    pub fn next_run(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.next_runs(now, 1).into_iter().next()
    }
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            token: SyncToken::default(),
            schedule: SyncSchedule::parse(DEFAULT_SCHEDULE, chrono_tz::UTC, Utc::now())
                .expect("the default schedule is valid"),
            at_startup: false,
            at_creation: true,
            request_timeout: std::time::Duration::from_secs(30),
        }
    }
}

impl Default for AppSettings {
    fn default() -> Self {
        Self {
            face_model: "face-v1".into(),
            face_vector_length: 512,
            upload_limit: 10 * 1024 * 1024,
            sync_web_ui: true,
            sync: SyncSettings::default(),
        }
    }
}

/// The state of the running server; missing only if a server function is called outside the
/// server's routes, which is a programming error reported as an internal error.
pub fn app_state() -> AppResult<AppState> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from context");
        AppError::internal()
    })
}
