//! Running an import to its end: its lock taken, the file counted and read past the rows a
//! previous run wrote, then batch after batch until the file ends or the installation stops;
//! at the end the one audit entry that says what the import did.

use super::csv_file::CsvFile;
use super::record::{self, Counts};
use super::source::Photos;
use super::write::{self, BatchContext};
use super::Imports;
use crate::audit;
use crate::error::{Error, Result};
use domain::imports::Import;
use sqlx::PgConnection;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// Rows read per batch when they name no photos: a batch is one transaction.
const BATCH_ROWS: usize = 1_000;
/// Photos per batch: a kill loses no more analysis than this (about 10 s of it on 2 cores), and
/// the cores wait for the batch's write once per this many.
const BATCH_PHOTOS: usize = 64;

/// How a run ended.
pub enum Outcome {
    /// The import is done (or failed: its file could not be used).
    Finished(Box<Import>),
    /// The installation is stopping: the import stays running, to be resumed.
    Stopped,
}

/// Where a run is, after each batch.
pub struct Progress<'a> {
    pub total: u64,
    pub done: u64,
    /// This run's counts so far.
    pub counts: &'a Counts,
}

impl Imports {
    /// Runs import `id` from `csv` and `photos`, going on from where a previous run stopped,
    /// until the file ends or `stop` is cancelled. `waiting` is called if another import holds
    /// the lock (the run then waits for it); `progress` after each batch.
    pub async fn run(
        &self,
        id: i64,
        csv: &Path,
        photos: Photos,
        stop: &CancellationToken,
        waiting: impl FnOnce(),
        mut progress: impl FnMut(&Progress),
    ) -> Result<Outcome> {
        // The lock lives with this connection: closed (the process killed), it is let go.
        let mut lock = self.pool.acquire().await?.detach();
        let free: bool = sqlx::query_scalar!(
            r#"SELECT pg_try_advisory_lock(dossier_lock_class('imports'), 0) AS "free!""#
        )
        .fetch_one(&mut lock)
        .await?;
        if !free {
            waiting();
            sqlx::query!("SELECT pg_advisory_lock(dossier_lock_class('imports'), 0)")
                .execute(&mut lock)
                .await?;
        }
        sqlx::query!(
            "SELECT pg_advisory_lock(dossier_lock_class('imports'), $1::int)",
            id as i32
        )
        .execute(&mut lock)
        .await?;
        let outcome = self.run_locked(id, csv, photos, stop, &mut progress).await;
        release(lock).await;
        outcome
    }

    async fn run_locked(
        &self,
        id: i64,
        csv: &Path,
        mut photos: Photos,
        stop: &CancellationToken,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<Outcome> {
        let started = record::start(&self.pool, id).await?;
        let path = csv.to_path_buf();
        let opened = blocking(move || {
            let total = CsvFile::count(&path)?;
            let mut file = CsvFile::open(&path)?;
            file.skip(started.rows_done as u64)?;
            Ok((total, file))
        })
        .await;
        let (total, mut file) = match opened {
            Ok(opened) => opened,
            Err(e) if e.field().is_some() => return self.fail(id, &started, &said(&e)).await,
            Err(e) => return Err(e),
        };
        record::set_total(&self.pool, id, total as i64).await?;
        let imported_before = record::done_before(&self.pool, id, &started.sha256).await?;
        let workers = crate::faces::engine_workers();
        let context = BatchContext {
            import: id,
            options: &started.options,
            imported_before,
            faces: &self.faces,
            workers,
            photo_limit: self.settings.photo_limit as u64,
        };
        let mut counts = Counts::default();
        loop {
            if stop.is_cancelled() {
                return Ok(Outcome::Stopped);
            }
            let (back, reads) = blocking(move || {
                let reads = file.next_batch(BATCH_ROWS, BATCH_PHOTOS);
                Ok((file, reads))
            })
            .await?;
            file = back;
            let reads = match reads {
                Ok(reads) => reads,
                Err(e) => return self.fail(id, &started, &said(&e)).await,
            };
            if reads.is_empty() {
                break;
            }
            let mut tx = self.pool.begin().await?;
            let batch = write::batch(&mut tx, &context, reads, &mut photos).await?;
            tx.commit().await?;
            counts.add(&batch);
            progress(&Progress {
                total,
                done: file.rows,
                counts: &counts,
            });
        }
        let mut tx = audit::begin(&self.pool, &started.actor).await?;
        record::finish(&mut *tx, id, None).await?;
        let import = record::get_in(&mut *tx, id).await?;
        audit::record(
            &mut *tx,
            &started.actor,
            "import",
            ("import", Some(id.to_string())),
            &summary(&import),
        )
        .await?;
        tx.commit().await?;
        Ok(Outcome::Finished(Box::new(import)))
    }

    /// Ends an import whose file cannot be used, with why (and the audit entry saying so).
    async fn fail(&self, id: i64, started: &record::Started, why: &str) -> Result<Outcome> {
        let mut tx = self.pool.begin().await?;
        record::finish(&mut *tx, id, Some(why)).await?;
        let words = format!("import {id} of {} failed: {why}", started.file_name);
        audit::record(
            &mut *tx,
            &started.actor,
            "import",
            ("import", Some(id.to_string())),
            &words,
        )
        .await?;
        tx.commit().await?;
        Ok(Outcome::Finished(Box::new(
            record::get(&self.pool, id).await?,
        )))
    }
}

/// A refusal of the whole file, naming what was wrong with it.
fn said(e: &Error) -> String {
    format!("{}: {}", e.field().unwrap_or("file"), e.message())
}

/// What an import did, as its audit entry and the command line say it.
pub fn summary(i: &Import) -> String {
    let mut words = format!(
        "import {} of {}: {} dossiers created, {} updated, {} unchanged, {} rows refused, {} photos added",
        i.id, i.file_name, i.created, i.updated, i.unchanged, i.refused, i.photos
    );
    if !i.lists_created.is_empty() {
        words.push_str(&format!("; lists created: {}", i.lists_created.join(", ")));
    }
    words
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.rows += other.rows;
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.refused += other.refused;
        self.photos += other.photos;
        self.lists_created
            .extend(other.lists_created.iter().cloned());
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Error::internal())?
}

/// Lets the import's locks go, and the connection with them.
async fn release(mut lock: PgConnection) {
    if let Err(e) = sqlx::query!("SELECT pg_advisory_unlock_all()")
        .execute(&mut lock)
        .await
    {
        tracing::warn!(error = %e, "an import's lock is let go with its connection");
    }
    drop(lock);
}

/// The digest of a file, read in pieces (a CSV may be large).
pub async fn file_digest(path: PathBuf) -> Result<Vec<u8>> {
    blocking(move || {
        use sha2::{Digest, Sha256};
        let mut file = std::fs::File::open(&path).map_err(|e| {
            Error::invalid("file", format!("{} cannot be read: {e}", path.display()))
        })?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| {
            Error::invalid("file", format!("{} cannot be read: {e}", path.display()))
        })?;
        Ok(hasher.finalize().to_vec())
    })
    .await
}
