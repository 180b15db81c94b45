//! Bulk imports of dossiers: a CSV of people (`domain::imports` says its columns) with their
//! photos, from a folder (`dossier import`) or a ZIP uploaded on the Imports page.
//!
//! An import reads its file in batches; each batch is one transaction that writes its
//! dossiers, memberships, photos and refused rows together with the import's counts, so a run
//! killed halfway loses its batch whole and the next run (the same command, or the server's
//! next start for an upload) goes on after the last committed one. A row is matched to its
//! dossier by its external key, so a second import of the file updates and never duplicates.
//! One import runs at a time (an advisory lock); its writes are audited as one entry, not an
//! entry per row.

mod analyse;
mod csv_file;
mod photos;
mod plan;
pub mod record;
mod run;
pub mod source;
mod upload;
pub mod worker;
mod write;

pub use csv_file::CsvFile;
pub use run::{file_digest, summary, Outcome, Progress};
pub use upload::Part;

use crate::faces::Faces;
use crate::settings::ByteSize;
use serde::Deserialize;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Notify;

/// Where uploads wait, and how large they may be.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ImportSettings {
    /// Where an uploaded ZIP is kept until its import ends (the server must be able to write
    /// there).
    #[serde(rename = "IMPORT_DIR")]
    pub dir: PathBuf,
    /// The largest ZIP the Imports page takes (`500MB`, `2GB`, or bytes).
    #[serde(rename = "IMPORT_LIMIT")]
    pub limit: ByteSize,
    /// The largest photo: the server's `UPLOAD_LIMIT`, set with it.
    #[serde(skip)]
    pub photo_limit: usize,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            dir: "data/imports".into(),
            limit: ByteSize(1024 * 1024 * 1024),
            photo_limit: 10 * 1024 * 1024,
        }
    }
}

/// The installation's imports, as the page, the command line and the worker share them.
#[derive(Clone)]
pub struct Imports {
    pub pool: PgPool,
    pub faces: Faces,
    pub settings: Arc<ImportSettings>,
    /// Rung when an upload is queued: the worker starts it at once.
    pub bell: Arc<Notify>,
    /// Why an upload from the page was refused, kept for the page it is sent back to.
    pub refused: Arc<crate::faces::recent::Recent<String>>,
}

impl Imports {
    pub fn new(pool: PgPool, faces: Faces, settings: ImportSettings) -> Self {
        Self {
            pool,
            faces,
            settings: Arc::new(settings),
            bell: Arc::default(),
            refused: Arc::default(),
        }
    }

    /// Where upload `id`'s ZIP and its unpacked CSV are kept.
    pub fn upload_files(&self, id: i64) -> (PathBuf, PathBuf) {
        let dir = &self.settings.dir;
        (dir.join(format!("{id}.zip")), dir.join(format!("{id}.csv")))
    }
}
