//! One installation of the dossier database as the engine sees it: its database, the settings
//! its logic depends on, and its replication scheduler. The server builds it from the
//! configuration; the web app's state carries it to every server function and route.

use crate::auth::throttle::LoginThrottle;
use crate::sync::bell::Scheduler;
use crate::sync::schedule::{SyncSchedule, DEFAULT_SCHEDULE};
use crate::sync::SyncToken;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::sync::Arc;

#[derive(Clone)]
pub struct Installation {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    /// Rung when a replica becomes due; counts its own restarts.
    pub scheduler: Arc<Scheduler>,
    /// Failed logins per account and address, and the locks they earned.
    pub login_throttle: Arc<LoginThrottle>,
    /// The face engine, when this installation's model is the built-in one
    /// (`face_engine::MODEL_NAME`); otherwise vectors come with the photos or not at all.
    pub faces: Option<Arc<face_engine::Engine>>,
    /// Searches by photo made from the page, until their results are read.
    pub recent_searches: Arc<crate::faces::recent::RecentSearches>,
    /// Monitoring's face index, live events and webhook bell.
    pub monitor: Arc<crate::monitoring::live::Monitor>,
}

impl Installation {
    pub fn new(pool: PgPool, settings: Settings) -> Self {
        let monitor = crate::monitoring::live::Monitor::new(&settings.face_model, None);
        Self {
            monitor: Arc::new(monitor),
            pool,
            settings: Arc::new(settings),
            scheduler: Arc::new(Scheduler::default()),
            login_throttle: Arc::new(LoginThrottle::default()),
            faces: None,
            recent_searches: Arc::default(),
        }
    }

    /// The installation with its face index saved in `dir` (and reloaded from there).
    pub fn with_index_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.monitor = Arc::new(crate::monitoring::live::Monitor::new(
            &self.settings.face_model,
            Some(dir),
        ));
        self
    }

    /// The installation with its face engine.
    pub fn with_faces(mut self, engine: Arc<face_engine::Engine>) -> Self {
        self.faces = Some(engine);
        self
    }
}

/// The part of the installation's settings the domain depends on.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Name of the face model whose vectors this installation stores (`FACE_MODEL`).
    pub face_model: String,
    /// How many floats a vector of that model has (`FACE_VECTOR_LENGTH`).
    pub face_vector_length: usize,
    /// Largest accepted photo upload, in bytes (`UPLOAD_LIMIT`).
    pub upload_limit: usize,
    /// Whether the replication screens are shown (`SYNC_WEB_UI`).
    pub sync_web_ui: bool,
    pub sync: SyncSettings,
    pub sessions: SessionSettings,
    /// How confident a match must be where its list sets no threshold (`FACE_THRESHOLD`).
    pub face_threshold: f32,
    /// Events older than this many days are dropped (`EVENTS_RETENTION_DAYS`).
    pub events_retention_days: i32,
    /// Audit entries older than this many days are deleted (`AUDIT_RETENTION_DAYS`).
    pub audit_retention_days: i32,
    /// What the pages call this installation (`SITE_NAME`).
    pub site_name: String,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// How browser sessions are kept.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// The session cookie's name, different for every installation: cookies do not tell ports
    /// apart, so two installations on one host would otherwise log each other out.
    pub cookie_name: String,
    /// Whether the cookie is sent over HTTPS only (`EXTERNAL_ADDRESS` is https).
    pub secure: bool,
    /// A session ends after this many minutes without a request (`SESSION_IDLE_MINUTES`;
    /// 0: only after its two weeks).
    pub idle_minutes: i32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            cookie_name: "dossier_session".into(),
            secure: false,
            idle_minutes: DEFAULT_SESSION_IDLE_MINUTES,
        }
    }
}

/// `SESSION_IDLE_MINUTES` when not set: a working day.
pub const DEFAULT_SESSION_IDLE_MINUTES: i32 = 8 * 60;
/// `AUDIT_RETENTION_DAYS` when not set: two years, as long as a typical inquiry looks back.
pub const DEFAULT_AUDIT_RETENTION_DAYS: i32 = 730;

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
    /// How many replicas may run at once in this process (`SYNC_CONCURRENCY`), so that one
    /// slow Leader does not hold back the others.
    pub concurrency: usize,
    /// The largest share of a replica (of more than [`GUARDED_REPLICA_SIZE`] dossiers) a run
    /// may remove without an Administrator's confirmation (`SYNC_MAX_DELETE_RATIO`): a Leader
    /// list emptied by mistake must not empty every site on the next schedule.
    pub max_delete_ratio: f64,
    /// Dossiers per page of changes asked from a Leader. A page has fixed costs (two requests,
    /// a transaction, a dozen statements); a thousand halves them against 500, for about 20 MB
    /// in flight per page. Tests use small pages to have many with few dossiers.
    pub page_size: i64,
}

/// `SYNC_MAX_DELETE_RATIO` when not set.
pub const DEFAULT_MAX_DELETE_RATIO: f64 = 0.5;
/// Replicas up to this size are not guarded: removing most of a handful is ordinary editing.
pub const GUARDED_REPLICA_SIZE: i64 = 100;

impl SyncSettings {
    /// The next scheduled run after `now`, if the schedule has one.
    pub fn next_run(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.next_runs(now, 1).into_iter().next()
    }
}

/// `SYNC_CONCURRENCY` when not set.
pub const DEFAULT_SYNC_CONCURRENCY: usize = 4;

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            token: SyncToken::default(),
            schedule: SyncSchedule::parse(DEFAULT_SCHEDULE, chrono_tz::UTC, Utc::now())
                .expect("the default schedule is valid"),
            at_startup: false,
            at_creation: true,
            request_timeout: std::time::Duration::from_secs(30),
            concurrency: DEFAULT_SYNC_CONCURRENCY,
            max_delete_ratio: DEFAULT_MAX_DELETE_RATIO,
            page_size: 1000,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            face_model: "face-v1".into(),
            face_vector_length: 512,
            upload_limit: 10 * 1024 * 1024,
            sync_web_ui: true,
            sync: SyncSettings::default(),
            sessions: SessionSettings::default(),
            audit_retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
            face_threshold: domain::monitoring::DEFAULT_THRESHOLD,
            events_retention_days: domain::monitoring::DEFAULT_RETENTION_DAYS,
            trusted_proxies: Vec::new(),
            site_name: "dossier database".into(),
        }
    }
}
