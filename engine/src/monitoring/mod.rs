//! Monitoring, what the replicas are for: cameras post what they see ([`ingest`]), each face is
//! matched against the active dossiers of the active watch lists ([`matching`], through the
//! nearest-neighbour [`index`]), and the outcome is an event, matched or not ([`store`]), in a
//! partition of its day ([`partitions`]), its face kept for the
//! [`archive`] search. Lists with `acknowledge` wait for an operator; lists
//! with `notify` alert the pages ([`live`]) and the installation's [`webhooks`].

pub mod archive;
pub(crate) mod background;
pub mod index;
pub mod ingest;
pub mod live;
pub mod matching;
pub mod partitions;
pub mod sightings;
pub mod store;
pub mod verdicts;
pub mod webhooks;

use crate::faces::Faces;
use crate::settings::{Bounded, Share};
use serde::Deserialize;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MonitoringSettings {
    /// How confident (0–1) a match must be where its watch list sets no threshold.
    #[serde(rename = "FACE_THRESHOLD")]
    pub threshold: Share,
    /// Where each server process saves its face index, to reload it at the next start instead
    /// of rebuilding it; none: it is not saved.
    #[serde(rename = "FACE_INDEX_DIR")]
    pub index_dir: Option<PathBuf>,
    /// Events are kept this many days (whole days are dropped, hourly); older capture times
    /// are refused.
    #[serde(rename = "EVENTS_RETENTION_DAYS")]
    pub retention_days: Bounded<1, 36_500>,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        Self {
            threshold: Share(domain::monitoring::DEFAULT_THRESHOLD as f64),
            index_dir: None,
            retention_days: Bounded::new(domain::monitoring::DEFAULT_RETENTION_DAYS as i64),
        }
    }
}

impl MonitoringSettings {
    pub fn threshold(&self) -> f32 {
        self.threshold.0 as f32
    }

    pub fn retention_days(&self) -> i32 {
        self.retention_days.get() as i32
    }
}

/// Monitoring as the rest of the engine holds it: what ingest, matching and the events need,
/// and what this process keeps in memory for them.
#[derive(Clone)]
pub struct Monitoring {
    pub pool: PgPool,
    pub settings: Arc<MonitoringSettings>,
    /// The model faces are matched in, and the engine that finds them in photos.
    pub faces: Faces,
    /// What webhooks call this installation (`SITE_NAME`).
    pub site_name: Arc<str>,
    pub index: Arc<index::MatchIndex>,
    /// The events' faces, for the archive search.
    pub archive: Arc<archive::EventArchive>,
    /// Faces found in photos searched with from the page, until the user is done with them.
    pub searched_faces: Arc<crate::faces::recent::Recent<crate::faces::recent::KeptFace>>,
    pub live: Arc<live::Live>,
    pub days: Arc<partitions::KnownDays>,
    /// Rung when deliveries were written, so that the webhook sender need not wait its tick.
    pub deliveries: Arc<tokio::sync::Notify>,
    /// Rung when a matched event was written, so that the delivery of hits to the Leaders need
    /// not wait its tick.
    pub hits: Arc<tokio::sync::Notify>,
}

impl Monitoring {
    pub fn new(pool: PgPool, settings: MonitoringSettings, faces: Faces, site_name: &str) -> Self {
        let index = index::MatchIndex::new(
            pool.clone(),
            faces.model.clone(),
            settings.index_dir.clone(),
        );
        let archive = archive::EventArchive::new(faces.model.vector_length);
        Self {
            pool,
            settings: Arc::new(settings),
            archive: Arc::new(archive),
            searched_faces: Arc::default(),
            faces,
            site_name: site_name.into(),
            index: Arc::new(index),
            live: Arc::default(),
            days: Arc::default(),
            deliveries: Arc::default(),
            hits: Arc::default(),
        }
    }
}
