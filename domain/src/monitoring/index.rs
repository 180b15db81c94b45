//! The installation's face index as monitoring uses it: every stored vector of the
//! installation's model, keyed by photo and grouped by dossier, kept current from the revision
//! log replication reads (a photo added or removed is a new revision of its dossier; a dossier
//! deleted leaves a tombstone).
//!
//! Each server process keeps its own index, so several processes can share one database. A
//! process saves its index (with the database identity and revision it is current to) and the
//! next start reloads it and catches up from that revision, instead of rebuilding: at a million
//! faces a build takes minutes. A database restored from a backup has a new epoch, so a saved
//! index of its past is not reused. While an index is rebuilt the old one keeps answering.
//!
//! A replica's full sync is indexed when it ends (its verification included), in one build, not
//! page by page: following it would insert into the graph as fast as the pages commit (a core's
//! worth of work, taken from the database writing those pages) and hold searches off at every
//! step. Meanwhile changes outside the lists being filled are still indexed within a second.
//! Builds run at a lower CPU priority than requests and the database, so an index that takes
//! minutes never slows them.
//!
//! A match does not wait for the next refresh: a camera that sees someone a moment after their
//! photo was enrolled matches them (see [`MatchIndex::take_in_committed`]).

use super::background::in_background;
use crate::error::{Error, Result};
use crate::sync::history::{identity, last_revision, watermark};
use crate::sync::run::lists_being_filled;
use crate::Installation;
use face_index::{Entry, FaceIndex, Header, Neighbour, Tuning};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Vectors read per query while building.
const BUILD_BATCH: i64 = 20_000;
/// More changed dossiers than this at once, and than a quarter of the faces the index holds (a
/// replica's first sync), build a new index instead: the build runs on every core beside the
/// old index, which keeps answering. Fewer are written into the index in place.
const REBUILD_ABOVE: usize = 5_000;
/// Changed dossiers written into the index under one lock: searches wait for these at most.
const REPLACE_CHUNK: usize = 200;
/// The index is saved after this many changes since the last save, or this long after one.
const SAVE_AFTER_CHANGES: usize = 1_000;
const SAVE_AFTER: Duration = Duration::from_secs(600);
/// How long a match waits for the index to take in the changes committed before it. Catching
/// up a few dossiers takes milliseconds; this bounds the wait when the database is slow.
const TAKE_IN_WAIT: Duration = Duration::from_secs(2);

/// What the index holds, and up to when.
struct Current {
    faces: FaceIndex,
    /// `installation/epoch` of the database the vectors came from.
    database: String,
    /// Every change up to this revision is in `faces`.
    revision: i64,
    /// Changes to dossiers outside the lists a full sync is filling are in `faces` up to this
    /// revision (at least `revision`).
    outside: i64,
}

/// The index and what keeping it current needs.
pub struct MatchIndex {
    current: RwLock<Option<Current>>,
    /// The folder it is saved in; none: it is not.
    dir: Option<PathBuf>,
    /// The file in that folder, named after the installation (two installations may share
    /// the folder), once the database has said which installation this is.
    file: std::sync::OnceLock<PathBuf>,
    /// The model whose vectors it holds (`FACE_MODEL`).
    model: String,
    tuning: Tuning,
    /// Keys a match found that the database no longer has, for the next refresh to remove.
    stale: std::sync::Mutex<Vec<u64>>,
    /// Bounds the searches running at once to the contexts the index keeps.
    searchers: tokio::sync::Semaphore,
    saved: std::sync::Mutex<(Instant, usize)>,
    /// One refresh at a time (the background one, or a match that cannot wait for it).
    refreshing: Arc<tokio::sync::Mutex<()>>,
    /// The revision up to which every change (outside lists a full sync is filling) is in the
    /// index, as each refresh leaves it: what matches wait on.
    taken_in: tokio::sync::watch::Sender<i64>,
}

impl MatchIndex {
    pub fn new(model: &str, dir: Option<PathBuf>) -> Self {
        Self {
            current: RwLock::new(None),
            dir,
            file: Default::default(),
            model: model.to_string(),
            tuning: Tuning::default(),
            stale: Default::default(),
            searchers: tokio::sync::Semaphore::new(face_index::SEARCHERS),
            saved: std::sync::Mutex::new((Instant::now(), 0)),
            refreshing: Default::default(),
            taken_in: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Whether the index has been built (or loaded); until then matching waits for it.
    pub fn is_ready(&self) -> bool {
        self.read().is_some()
    }

    /// How many vectors it holds, and the revision it is current to.
    pub fn status(&self) -> Option<(usize, i64)> {
        self.read().as_ref().map(|c| (c.faces.len(), c.revision))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Current>> {
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Current>> {
        self.current.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The `count` stored photos nearest to each of `vectors`, approximately (the caller
    /// re-ranks them exactly).
    pub async fn nearest(
        self: &Arc<Self>,
        vectors: Vec<Vec<f32>>,
        count: usize,
    ) -> Result<Vec<Vec<Neighbour>>> {
        let _permit = self
            .searchers
            .acquire()
            .await
            .map_err(|_| Error::internal())?;
        let index = self.clone();
        tokio::task::spawn_blocking(move || {
            let current = index.read();
            let Some(current) = current.as_ref() else {
                return Err(Error::Unavailable {
                    message: "the face index is being built; try again shortly".into(),
                    retry_after: 5,
                });
            };
            vectors
                .iter()
                .map(|v| {
                    current.faces.nearest(v, count).map_err(|e| {
                        tracing::error!(error = %e, "face index search failed");
                        Error::internal()
                    })
                })
                .collect()
        })
        .await
        .map_err(|_| Error::internal())?
    }

    /// Notes photos a search returned that the database no longer has.
    pub fn forget(&self, keys: impl IntoIterator<Item = u64>) {
        self.stale
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(keys);
    }

    /// Brings the index up to the database's current revision: loads or builds it the first
    /// time, rebuilds it when the database's epoch changed (a restore) or too much changed at
    /// once, and otherwise replaces the dossiers changed since.
    pub async fn refresh(self: &Arc<Self>, inst: &Installation) -> Result<()> {
        let one_at_a_time = self.refreshing.clone().lock_owned().await;
        self.refresh_holding(one_at_a_time, inst).await
    }

    /// Makes sure there is an index to match against: builds it now unless a build is already
    /// under way, which is then said (503: try again shortly) rather than waited for.
    pub async fn ensure_ready(self: &Arc<Self>, inst: &Installation) -> Result<()> {
        if self.is_ready() {
            return Ok(());
        }
        match self.refreshing.clone().try_lock_owned() {
            Ok(one_at_a_time) => self.refresh_holding(one_at_a_time, inst).await,
            Err(_) => Err(Error::Unavailable {
                message: "the face index is being built; try again shortly".into(),
                retry_after: 10,
            }),
        }
    }

    /// Makes sure a match sees every change committed before it arrived, so that a photo
    /// enrolled a moment ago matches at once: when the index is behind, a refresh starts now
    /// (unless one is under way) and the match waits for it, at most [`TAKE_IN_WAIT`]. Never for
    /// a rebuild: that far behind, the match goes on against the index as it is.
    pub async fn take_in_committed(self: &Arc<Self>, inst: &Installation) -> Result<()> {
        let committed = last_revision(&inst.pool).await?;
        let mut taken_in = self.taken_in.subscribe();
        let behind = committed - *taken_in.borrow_and_update();
        if behind <= 0 || behind > REBUILD_ABOVE as i64 {
            return Ok(());
        }
        let caught_up = async {
            loop {
                // A refresh that began before `committed` was read may stop short of it; the
                // next one, begun after, waits for the writers in flight and reaches it.
                self.refresh_soon(inst);
                if taken_in.changed().await.is_err() || *taken_in.borrow_and_update() >= committed {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(TAKE_IN_WAIT, caught_up).await;
        Ok(())
    }

    /// Starts a refresh on a task of its own unless one is under way (a match that gives up
    /// waiting does not cut it short).
    fn refresh_soon(self: &Arc<Self>, inst: &Installation) {
        let Ok(one_at_a_time) = self.refreshing.clone().try_lock_owned() else {
            return;
        };
        let (index, inst) = (self.clone(), inst.clone());
        tokio::spawn(async move {
            if let Err(e) = index.refresh_holding(one_at_a_time, &inst).await {
                tracing::warn!(error = %e, "cannot refresh the face index for a match");
            }
        });
    }

    /// Refreshes, lets go of the lock, then tells the matches waiting how far the index has come
    /// (in that order, so that a match still behind can start the next refresh).
    async fn refresh_holding(
        self: &Arc<Self>,
        one_at_a_time: tokio::sync::OwnedMutexGuard<()>,
        inst: &Installation,
    ) -> Result<()> {
        let refreshed = self.refresh_now(inst).await;
        drop(one_at_a_time);
        if let Some(current) = self.read().as_ref() {
            self.taken_in.send_replace(current.outside);
        }
        refreshed
    }

    async fn refresh_now(self: &Arc<Self>, inst: &Installation) -> Result<()> {
        let (installation, epoch, counter) = identity(&inst.pool).await?;
        let database = format!("{installation}/{epoch}");
        let known = self
            .read()
            .as_ref()
            .map(|c| (c.database.clone(), c.revision));
        match known {
            None => {
                if let Some(dir) = &self.dir {
                    let _ = self
                        .file
                        .set(dir.join(format!("faces-{installation}.usearch")));
                }
                self.start(inst, database).await
            }
            Some((db, _)) if db != database => {
                tracing::info!("the database's epoch changed: rebuilding the face index");
                self.rebuild(inst, database).await
            }
            Some((_, revision)) if revision == counter => self.remove_stale(),
            Some((_, revision)) => {
                let filling = lists_being_filled(&inst.pool).await?;
                if filling.is_empty() {
                    self.catch_up(inst, database, revision).await
                } else {
                    self.catch_up_outside(inst, &filling, counter).await
                }
            }
        }
    }

    /// At start-up: the saved index if it fits this database, caught up; else a new one.
    async fn start(self: &Arc<Self>, inst: &Installation, database: String) -> Result<()> {
        let loaded = match self.file.get() {
            Some(file) => {
                let (file, model, length, db, tuning) = (
                    file.clone(),
                    self.model.clone(),
                    inst.settings.face_vector_length,
                    database.clone(),
                    self.tuning,
                );
                let started = Instant::now();
                let loaded = tokio::task::spawn_blocking(move || {
                    FaceIndex::load(&file, &model, length, &db, tuning)
                })
                .await
                .map_err(|_| Error::internal())?
                .map_err(|e| {
                    tracing::warn!(error = %e, "cannot read the saved face index; rebuilding");
                })
                .ok()
                .flatten();
                if let Some((faces, _)) = &loaded {
                    tracing::info!(
                        faces = faces.len(),
                        seconds = started.elapsed().as_secs_f32(),
                        "face index loaded"
                    );
                }
                loaded
            }
            None => None,
        };
        match loaded {
            Some((faces, header)) => {
                *self.write() = Some(Current {
                    faces,
                    database: database.clone(),
                    revision: header.revision,
                    outside: header.revision,
                });
                self.catch_up(inst, database, header.revision).await
            }
            None => self.rebuild(inst, database).await,
        }
    }

    /// A new index of every vector, built while the old one (if any) keeps answering.
    async fn rebuild(self: &Arc<Self>, inst: &Installation, database: String) -> Result<()> {
        let started = Instant::now();
        let (revision, _) = watermark(&inst.pool).await?;
        let mut entries = Vec::new();
        let mut after = 0_i64;
        loop {
            let rows = sqlx::query!(
                r#"SELECT id, dossier_id, face_vector AS "vector!" FROM photos
                   WHERE id > $1 AND face_model = $2 AND face_vector IS NOT NULL
                   ORDER BY id LIMIT $3"#,
                after,
                inst.settings.face_model,
                BUILD_BATCH
            )
            .fetch_all(&inst.pool)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            let full = rows.len() as i64 == BUILD_BATCH;
            entries.extend(rows.into_iter().map(|r| Entry {
                key: r.id as u64,
                group: r.dossier_id as u64,
                vector: r.vector,
            }));
            if !full {
                break;
            }
        }
        let (length, tuning) = (inst.settings.face_vector_length, self.tuning);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let faces = in_background(move || {
            // Vectors of another length (stored before the setting changed) cannot be compared.
            entries.retain(|e| e.vector.len() == length);
            FaceIndex::build(length, tuning, &entries, threads)
        })
        .await?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot build the face index");
            Error::internal()
        })?;
        tracing::info!(
            faces = faces.len(),
            seconds = started.elapsed().as_secs_f32(),
            "face index built"
        );
        *self.write() = Some(Current {
            faces,
            database,
            revision,
            outside: revision,
        });
        self.save().await;
        Ok(())
    }

    /// Replaces the dossiers changed after `since` with their photos now.
    async fn catch_up(
        self: &Arc<Self>,
        inst: &Installation,
        database: String,
        since: i64,
    ) -> Result<()> {
        let (until, _) = watermark(&inst.pool).await?;
        let changed: Vec<i64> = sqlx::query_scalar!(
            r#"SELECT id AS "id!" FROM dossiers WHERE revision > $1 AND revision <= $2
               UNION SELECT dossier_id FROM sync_tombstones WHERE revision > $1 AND revision <= $2"#,
            since,
            until
        )
        .fetch_all(&inst.pool)
        .await?;
        let held = self.read().as_ref().map_or(0, |c| c.faces.len());
        if changed.len() > REBUILD_ABOVE && changed.len() * 4 > held {
            return self.rebuild(inst, database).await;
        }
        self.replace(inst, changed, Some(until)).await
    }

    /// While full syncs fill `filling`: replaces the dossiers of other lists changed since the
    /// last such step, up to `counter`, and leaves the filled lists for [`Self::catch_up`] after
    /// the sync (`revision` stays where it was). The counter, not the watermark, bounds the step,
    /// so that it does not wait for the sync's page in flight; a change committed late under it
    /// is caught up with the rest after the sync.
    async fn catch_up_outside(
        self: &Arc<Self>,
        inst: &Installation,
        filling: &[i64],
        counter: i64,
    ) -> Result<()> {
        let Some(since) = self.read().as_ref().map(|c| c.outside) else {
            return Ok(());
        };
        if since >= counter {
            return self.remove_stale();
        }
        let changed: Vec<i64> = sqlx::query_scalar!(
            r#"SELECT d.id AS "id!" FROM dossiers d
               WHERE d.revision > $1 AND d.revision <= $2
                 AND NOT EXISTS (SELECT 1 FROM dossier_watch_lists m
                                 WHERE m.dossier_id = d.id AND m.watch_list_id = ANY($3))
               UNION SELECT dossier_id FROM sync_tombstones WHERE revision > $1 AND revision <= $2"#,
            since,
            counter,
            filling
        )
        .fetch_all(&inst.pool)
        .await?;
        // So many are left for the catch-up after the sync, which rebuilds.
        if changed.len() <= REBUILD_ABOVE {
            self.replace(inst, changed, None).await?;
        }
        if let Some(current) = self.write().as_mut() {
            current.outside = current.outside.max(counter);
        }
        Ok(())
    }

    /// Makes each of the `changed` dossiers' photos in the index what the database has now;
    /// `until`: the revision the index is then current to, if it is.
    async fn replace(
        self: &Arc<Self>,
        inst: &Installation,
        changed: Vec<i64>,
        until: Option<i64>,
    ) -> Result<()> {
        let rows = sqlx::query!(
            r#"SELECT id, dossier_id, face_vector AS "vector!" FROM photos
               WHERE dossier_id = ANY($1) AND face_model = $2 AND face_vector IS NOT NULL"#,
            &changed,
            inst.settings.face_model
        )
        .fetch_all(&inst.pool)
        .await?;
        let length = inst.settings.face_vector_length;
        let mut by_dossier: std::collections::HashMap<i64, Vec<(u64, Vec<f32>)>> =
            changed.iter().map(|d| (*d, Vec::new())).collect();
        for r in rows.into_iter().filter(|r| r.vector.len() == length) {
            by_dossier
                .entry(r.dossier_id)
                .or_default()
                .push((r.id as u64, r.vector));
        }
        let index = self.clone();
        let count = by_dossier.len();
        tokio::task::spawn_blocking(move || {
            let by_dossier: Vec<_> = by_dossier.into_iter().collect();
            for chunk in by_dossier.chunks(REPLACE_CHUNK) {
                let mut current = index.write();
                let Some(current) = current.as_mut() else {
                    return Ok(());
                };
                for (dossier, photos) in chunk {
                    current.faces.replace_group(*dossier as u64, photos)?;
                }
            }
            if let (Some(until), Some(current)) = (until, index.write().as_mut()) {
                current.revision = current.revision.max(until);
                current.outside = current.outside.max(until);
            }
            Ok::<_, face_index::IndexError>(())
        })
        .await
        .map_err(|_| Error::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot update the face index");
            Error::internal()
        })?;
        self.remove_stale()?;
        let due = {
            let mut saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
            saved.1 += count;
            saved.1 >= SAVE_AFTER_CHANGES || (saved.1 > 0 && saved.0.elapsed() >= SAVE_AFTER)
        };
        if due {
            self.save().await;
        }
        Ok(())
    }

    fn remove_stale(&self) -> Result<()> {
        let stale = std::mem::take(&mut *self.stale.lock().unwrap_or_else(|e| e.into_inner()));
        if stale.is_empty() {
            return Ok(());
        }
        let mut current = self.write();
        if let Some(current) = current.as_mut() {
            for key in stale {
                current.faces.remove_key(key).map_err(|e| {
                    tracing::error!(error = %e, "cannot update the face index");
                    Error::internal()
                })?;
            }
        }
        Ok(())
    }

    /// Saves the index where it is kept; a failure is logged (the next start rebuilds).
    async fn save(self: &Arc<Self>) {
        let Some(file) = self.file.get().cloned() else {
            return;
        };
        let index = self.clone();
        let saved = tokio::task::spawn_blocking(move || {
            let current = index.read();
            let Some(current) = current.as_ref() else {
                return Ok(());
            };
            let header = Header {
                model: index.model.clone(),
                dimensions: current.faces.dimensions(),
                database: current.database.clone(),
                revision: current.revision,
                count: current.faces.len(),
            };
            current.faces.save(&file, &header)
        })
        .await;
        match saved {
            Ok(Ok(())) => {
                *self.saved.lock().unwrap_or_else(|e| e.into_inner()) = (Instant::now(), 0);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot save the face index"),
            Err(_) => tracing::warn!("saving the face index panicked"),
        }
    }
}

/// Keeps the index current for the life of the server: a refresh every second (cheap when
/// nothing changed: one query), logged and retried when the database is away.
pub fn spawn(inst: Installation) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticks.tick().await;
            match inst.monitor.index.refresh(&inst).await {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "cannot refresh the face index; retrying")
                }
                Err(_) => {}
            }
        }
    })
}
