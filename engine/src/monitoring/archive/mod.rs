//! The event archive as this server searches it: every kept event's face code, copied from
//! PostgreSQL into a [`face_index::archive::Archive`] in memory (vector search lives in the
//! server process; PostgreSQL here has no vector type). The copy is brought up to date before
//! each search, reading only the rows written since it last looked: each row carries the id of
//! the transaction that wrote its code (`coded_xid`), and every row of a transaction older than
//! the oldest one still running when the copy last looked (its snapshot's `xmin`) was read
//! then. So an event another server (or this one) wrote is found by the next search, and a
//! camera's better shot of a track replaces the track's face.
//!
//! Where a face was seen is numbered for the scan ([`Places`]): the camera it was posted with,
//! its camera, and the site it came from.

pub mod search;

use super::partitions::oldest_kept;
use crate::error::{Error, Result};
use face_index::archive::{Archive, ArchivedFace};
use futures_util::TryStreamExt;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Where a face was seen: the camera name it was posted with, the installation's camera it came
/// from, and the site (none: here).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Place {
    pub camera: String,
    pub camera_id: Option<i64>,
    pub site_id: Option<i64>,
}

/// The places seen so far, numbered in the order they were first seen.
#[derive(Default)]
pub struct Places {
    numbers: HashMap<Place, u32>,
    all: Vec<Place>,
}

impl Places {
    fn number(&mut self, place: Place) -> u32 {
        if let Some(n) = self.numbers.get(&place) {
            return *n;
        }
        let n = self.all.len() as u32;
        self.numbers.insert(place.clone(), n);
        self.all.push(place);
        n
    }

    /// The numbers of the places `keep` accepts.
    pub fn matching(&self, keep: impl Fn(&Place) -> bool) -> Vec<u32> {
        (0..self.all.len() as u32)
            .filter(|n| keep(&self.all[*n as usize]))
            .collect()
    }
}

/// The copy, and how far it has read.
pub struct HeldFaces {
    pub faces: Archive,
    pub places: Places,
    /// The `xmin` of the snapshot the copy last read with: rows of older transactions are in.
    read_to: Option<String>,
}

/// The archive of this server: its copy, shared with the blocking threads that scan it.
pub struct EventArchive {
    copy: Arc<RwLock<HeldFaces>>,
    /// One refresh at a time: two would read the same rows twice.
    refreshing: tokio::sync::Mutex<()>,
    dimensions: usize,
}

impl EventArchive {
    pub fn new(dimensions: usize) -> Self {
        Self {
            copy: Arc::new(RwLock::new(HeldFaces {
                faces: Archive::new(dimensions),
                places: Places::default(),
                read_to: None,
            })),
            refreshing: tokio::sync::Mutex::new(()),
            dimensions,
        }
    }

    /// The copy, to read.
    pub fn copy(&self) -> Arc<RwLock<HeldFaces>> {
        self.copy.clone()
    }

    /// How many faces the copy holds.
    pub fn len(&self) -> usize {
        self.copy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .faces
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads what was written since the last refresh (everything, the first time), and forgets
    /// the days the retention dropped.
    pub async fn refresh(&self, pool: &PgPool, retention_days: i32) -> Result<usize> {
        let _one = self.refreshing.lock().await;
        let oldest = oldest_kept(retention_days)
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(Error::internal)?;
        let since = {
            let copy = self.copy.read().unwrap_or_else(|e| e.into_inner());
            copy.read_to.clone().unwrap_or_else(|| "0".into())
        };
        // One snapshot for both: the rows read are exactly those it sees.
        let mut tx = pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let read_to: String = sqlx::query_scalar!(
            r#"SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS "xmin!""#
        )
        .fetch_one(&mut *tx)
        .await?;
        let mut rows = sqlx::query!(
            r#"SELECT id, captured_at, camera, camera_id, site_id, face_code AS "code!"
               FROM events
               WHERE face_code IS NOT NULL AND coded_xid >= $1::text::xid8
                 AND captured_at >= $2"#,
            since,
            oldest
        )
        .fetch(&mut *tx);
        let mut batch = Vec::new();
        let mut read = 0;
        while let Some(r) = rows.try_next().await? {
            if r.code.len() != self.dimensions {
                continue; // a code of another model's length
            }
            batch.push((
                Place {
                    camera: r.camera,
                    camera_id: r.camera_id,
                    site_id: r.site_id,
                },
                r.id,
                r.captured_at.timestamp(),
                r.code,
            ));
            if batch.len() == 10_000 {
                read += self.put(std::mem::take(&mut batch));
            }
        }
        drop(rows);
        tx.commit().await?;
        read += self.put(batch);
        let mut copy = self.copy.write().unwrap_or_else(|e| e.into_inner());
        copy.faces.forget_before(oldest.timestamp());
        copy.read_to = Some(read_to);
        Ok(read)
    }

    /// Writes a batch of rows into the copy, under one short lock.
    fn put(&self, batch: Vec<(Place, i64, i64, Vec<u8>)>) -> usize {
        let n = batch.len();
        let mut copy = self.copy.write().unwrap_or_else(|e| e.into_inner());
        for (place, id, at, code) in batch {
            let tag = copy.places.number(place);
            let code = code.into_iter().map(|b| b as i8).collect();
            if let Err(e) = copy.faces.put(ArchivedFace {
                key: id as u64,
                at,
                tag,
                code,
            }) {
                tracing::warn!(event = id, error = %e, "an event's face code does not fit");
            }
        }
        n
    }
}

/// A face vector as an event keeps it (`events.face_code`).
pub fn face_code(vector: &[f32]) -> Vec<u8> {
    face_index::archive::code(vector)
        .into_iter()
        .map(|q| q as u8)
        .collect()
}

/// Keeps the copy current as a worker: read whole at the start (so that the first search need
/// not wait for it), then every few seconds (one cheap query when nothing changed), so that a
/// search reads only the last seconds' events; logged once and retried while the database is
/// away.
pub struct Reader {
    archive: Arc<EventArchive>,
    pool: PgPool,
    retention_days: i32,
    ticks: tokio::time::Interval,
    failing: bool,
}

impl Reader {
    pub fn new(archive: Arc<EventArchive>, pool: PgPool, retention_days: i32) -> Self {
        let mut ticks = tokio::time::interval(std::time::Duration::from_secs(5));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            archive,
            pool,
            retention_days,
            ticks,
            failing: false,
        }
    }
}

impl crate::workers::Worker for Reader {
    const NAME: &'static str = "event-archive";

    async fn due(&mut self) {
        self.ticks.tick().await;
    }

    async fn pass(&mut self, _: &crate::workers::Context) {
        match self.archive.refresh(&self.pool, self.retention_days).await {
            Ok(_) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(error = %e, "cannot read the event archive; retrying");
            }
            Err(_) => {}
        }
    }
}
