//! The dossier database's engine: every store (the SQL of watch lists, dossiers, photos,
//! images, accounts, events and replicas), replication (the Leader's feed, the Subscriber's
//! runs and their scheduler), monitoring (ingest, matching, the face index, webhooks), the
//! faces, and every background worker, under one runtime ([`workers`]). It knows nothing of
//! Leptos or of HTTP routing: the web app (`app`) and the binary (`server`) are adapters over
//! it.
//!
//! [`Installation`] is assembled here, once: each part (accounts, faces, replication,
//! monitoring) receives a pool, its own settings and its own channels, and no module below
//! reaches back up to the whole. A new store is a module beside the others; a new setting is a
//! field of its part's settings struct; a new background loop is a [`workers::Worker`] started
//! in [`Installation::start_workers`].

pub mod audit;
pub mod auth;
pub mod backoff;
pub mod cameras;
pub mod database;
pub mod demo;
pub mod dossiers;
pub mod error;
pub mod exports;
pub mod faces;
pub mod hits;
pub mod housekeeping;
pub mod images;
pub mod imports;
pub mod locks;
pub mod monitoring;
pub mod photos;
pub mod settings;
pub mod sync;
pub mod users;
pub mod video;
pub mod watch_lists;
pub mod workers;

pub use error::{Error, OnConstraint, Result};

use auth::throttle::LoginThrottle;
use faces::Faces;
use monitoring::Monitoring;
use sqlx::PgPool;
use std::sync::Arc;
use sync::Replication;
use tokio_util::sync::CancellationToken;
use workers::{Health, Workers};

/// The engine's settings, one struct per part.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// What this installation is called (`SITE_NAME`, read by the server with the address it
    /// defaults to): webhooks say it.
    pub site_name: String,
    /// How others reach this installation (`EXTERNAL_ADDRESS`): its Leaders' Sites pages say it.
    pub address: String,
    pub sync: sync::SyncSettings,
    pub faces: faces::FaceSettings,
    pub monitoring: monitoring::MonitoringSettings,
    pub accounts: auth::AccountSettings,
    pub audit: audit::AuditSettings,
    pub video: video::VideoSettings,
    pub imports: imports::ImportSettings,
}

/// One installation of the dossier database as its parts hold it.
#[derive(Clone)]
pub struct Installation {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    /// Failed logins per account and address, and the locks they earned.
    pub login_throttle: Arc<LoginThrottle>,
    pub faces: Faces,
    pub replication: Replication,
    pub monitoring: Monitoring,
    /// This installation's matches on its replicas, on their way to the Leaders.
    pub hits: hits::Hits,
    /// Bulk imports of dossiers, and the queue of uploaded ones.
    pub imports: imports::Imports,
    /// Cancelled when the installation stops: workers and replication runs watch it.
    pub stop: CancellationToken,
    /// The workers' lines in `/metrics`.
    pub health: Arc<Health>,
}

impl Installation {
    /// Assembles the installation over `pool`; `engine` is the face engine, when `settings`
    /// name the built-in model (see [`faces::load_engine`]).
    pub fn new(
        pool: PgPool,
        settings: Settings,
        engine: Option<Arc<face_engine::Engine>>,
    ) -> Result<Self, settings::SettingError> {
        let stop = CancellationToken::new();
        let model = settings.faces.model()?;
        let faces = Faces {
            pool: pool.clone(),
            model: model.clone(),
            engine,
            recent: Arc::default(),
            gate: settings.faces.gate(),
        };
        let replication = Replication {
            pool: pool.clone(),
            settings: Arc::new(settings.sync.clone()),
            face_model: model.name,
            bell: Arc::default(),
            stop: stop.clone(),
        };
        let monitoring = Monitoring::new(
            pool.clone(),
            settings.monitoring.clone(),
            faces.clone(),
            &settings.site_name,
        );
        let hits = hits::Hits {
            pool: pool.clone(),
            token: settings.sync.token.clone(),
            site: Arc::new(hits::SiteIdentity {
                name: settings.site_name.clone(),
                address: match settings.address.as_str() {
                    "" => settings.site_name.clone(),
                    address => address.to_string(),
                },
                face_model: faces.model.name.clone(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            }),
            bell: monitoring.hits.clone(),
            timeout: settings.sync.request_timeout,
        };
        let imports = imports::Imports::new(pool.clone(), faces.clone(), settings.imports.clone());
        Ok(Self {
            pool,
            imports,
            settings: Arc::new(settings),
            login_throttle: Arc::default(),
            faces,
            replication,
            monitoring,
            hits,
            stop,
            health: Arc::default(),
        })
    }

    /// Starts every background worker of the installation under one runtime: the replication
    /// scheduler, the webhook sender, the delivery of hits, the face index's refresh, the event
    /// archive's reader, the housekeeping, the uploaded imports and this process's video worker.
    pub fn start_workers(&self) -> Workers {
        let mut workers = self.workers();
        let replication = self.replication.clone();
        workers.start(move || sync::scheduler::Scheduler::new(replication.clone()));
        let (pool, bell) = (self.pool.clone(), self.monitoring.deliveries.clone());
        workers
            .start(move || monitoring::webhooks::sender::Sender::new(pool.clone(), bell.clone()));
        let hits = self.hits.clone();
        workers.start(move || hits::delivery::Delivery::new(hits.clone()));
        let index = self.monitoring.index.clone();
        workers.start(move || monitoring::index::Refresher::new(index.clone()));
        let (archive, pool, days) = (
            self.monitoring.archive.clone(),
            self.pool.clone(),
            self.settings.monitoring.retention_days(),
        );
        workers
            .start(move || monitoring::archive::Reader::new(archive.clone(), pool.clone(), days));
        let (pool, retention, days) = (
            self.pool.clone(),
            self.retention(),
            self.monitoring.days.clone(),
        );
        workers
            .start(move || housekeeping::Housekeeping::new(pool.clone(), retention, days.clone()));
        let imports = self.imports.clone();
        workers.start(move || imports::worker::ImportRunner::new(imports.clone()));
        self.start_video_worker(&mut workers);
        workers
    }

    /// This process's own video worker, unless `VIDEO_WORKER_CAMERAS` is 0 or there is no
    /// face engine to analyse with (another model's vectors come from elsewhere).
    fn start_video_worker(&self, workers: &mut Workers) {
        let capacity = self.settings.video.cameras.get() as usize;
        let Some(engine) = self.faces.engine.clone().filter(|_| capacity > 0) else {
            return;
        };
        let name = video::worker::VideoWorker::name_here();
        let (model, ffmpeg) = (
            self.faces.model.name.clone(),
            self.settings.video.ffmpeg.clone(),
        );
        let station = video::station::Station::Local(self.monitoring.clone());
        workers.start(move || {
            video::worker::VideoWorker::new(
                &name,
                capacity,
                engine.clone(),
                &model,
                ffmpeg.clone(),
                station.clone(),
            )
        });
    }

    /// A runtime for this installation's workers, with none started (tests start the ones
    /// they exercise).
    pub fn workers(&self) -> Workers {
        Workers::new(self.stop.clone(), self.health.clone())
    }

    /// What housekeeping keeps, and for how long.
    pub fn retention(&self) -> housekeeping::Retention {
        housekeeping::Retention {
            session_idle_minutes: self.settings.accounts.idle_minutes(),
            audit_days: self.settings.audit.retention_days.get() as i32,
            events_days: self.settings.monitoring.retention_days(),
        }
    }

    /// One round of housekeeping now.
    pub async fn tidy(&self) {
        housekeeping::tidy(&self.pool, self.retention(), &self.monitoring.days).await;
    }
}
