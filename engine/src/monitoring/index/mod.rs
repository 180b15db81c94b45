//! The installation's face index as monitoring uses it: every stored vector of the
//! installation's model, keyed by photo and grouped by dossier, kept current from the revision
//! log replication reads (a photo added or removed is a new revision of its dossier; a dossier
//! deleted leaves a tombstone).
//!
//! Each server process keeps its own index, so several processes can share one database. A
//! process's index worker ([`Refresher`]) saves it (with the database identity and revision it
//! is current to) when that is due and at every stop (`saving`), and the next start reloads it
//! and catches up from that revision, instead of rebuilding: at a million faces a build takes
//! minutes. A database restored from a backup has a new epoch, so a saved
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

mod refresh;
mod saving;

pub use saving::Save;

use crate::error::{Error, Result};
use crate::faces::FaceModel;
use crate::sync::history::last_revision;
use crate::workers::{Context, Worker};
use face_index::{FaceIndex, Neighbour, Tuning};
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// More changed dossiers than this at once, and than a quarter of the faces the index holds (a
/// replica's first sync), build a new index instead: the build runs on every core beside the
/// old index, which keeps answering. Fewer are written into the index in place.
const REBUILD_ABOVE: usize = 5_000;
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
    pool: PgPool,
    current: RwLock<Option<Current>>,
    /// The folder it is saved in; none: it is not.
    dir: Option<PathBuf>,
    /// The file in that folder, named after the installation (two installations may share
    /// the folder), once the database has said which installation this is.
    file: std::sync::OnceLock<PathBuf>,
    /// The model whose vectors it holds (`FACE_MODEL`), and their length.
    model: FaceModel,
    tuning: Tuning,
    /// Keys a match found that the database no longer has, for the next refresh to remove.
    stale: std::sync::Mutex<Vec<u64>>,
    /// Bounds the searches running at once to the contexts the index keeps.
    searchers: tokio::sync::Semaphore,
    saves: std::sync::Mutex<saving::Saves>,
    /// One refresh at a time (the background one, or a match that cannot wait for it).
    refreshing: Arc<tokio::sync::Mutex<()>>,
    /// The revision up to which every change (outside lists a full sync is filling) is in the
    /// index, as each refresh leaves it: what matches wait on.
    taken_in: tokio::sync::watch::Sender<i64>,
}

impl MatchIndex {
    pub fn new(pool: PgPool, model: FaceModel, dir: Option<PathBuf>) -> Self {
        Self {
            pool,
            current: RwLock::new(None),
            dir,
            file: Default::default(),
            model,
            tuning: Tuning::default(),
            stale: Default::default(),
            searchers: tokio::sync::Semaphore::new(face_index::SEARCHERS),
            saves: std::sync::Mutex::new(saving::Saves::new()),
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
                return Err(Error::unavailable(
                    "the face index is being built; try again shortly",
                    5,
                ));
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
    pub async fn refresh(self: &Arc<Self>) -> Result<()> {
        let one_at_a_time = self.refreshing.clone().lock_owned().await;
        self.refresh_holding(one_at_a_time).await
    }

    /// Makes sure there is an index to match against: builds it now, or waits for the build
    /// under way (at the start, a small index is built in moments) for at most
    /// [`TAKE_IN_WAIT`]; a build that takes longer is said (503: try again shortly) rather
    /// than waited for.
    pub async fn ensure_ready(self: &Arc<Self>) -> Result<()> {
        if self.is_ready() {
            return Ok(());
        }
        let one_at_a_time =
            tokio::time::timeout(TAKE_IN_WAIT, self.refreshing.clone().lock_owned()).await;
        match one_at_a_time {
            Ok(_) if self.is_ready() => Ok(()),
            Ok(one_at_a_time) => self.refresh_holding(one_at_a_time).await,
            Err(_) => Err(Error::unavailable(
                "the face index is being built; try again shortly",
                10,
            )),
        }
    }

    /// Makes sure a match sees every change committed before it arrived, so that a photo
    /// enrolled a moment ago matches at once: when the index is behind, a refresh starts now
    /// (unless one is under way) and the match waits for it, at most [`TAKE_IN_WAIT`]. Never for
    /// a rebuild: that far behind, the match goes on against the index as it is.
    pub async fn take_in_committed(self: &Arc<Self>) -> Result<()> {
        let committed = last_revision(&self.pool).await?;
        let mut taken_in = self.taken_in.subscribe();
        let behind = committed - *taken_in.borrow_and_update();
        if behind <= 0 || behind > REBUILD_ABOVE as i64 {
            return Ok(());
        }
        let caught_up = async {
            loop {
                // A refresh that began before `committed` was read may stop short of it; the
                // next one, begun after, waits for the writers in flight and reaches it.
                self.refresh_soon();
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
    fn refresh_soon(self: &Arc<Self>) {
        let Ok(one_at_a_time) = self.refreshing.clone().try_lock_owned() else {
            return;
        };
        let index = self.clone();
        tokio::spawn(async move {
            if let Err(e) = index.refresh_holding(one_at_a_time).await {
                tracing::warn!(error = %e, "cannot refresh the face index for a match");
            }
        });
    }

    /// Refreshes, lets go of the lock, then tells the matches waiting how far the index has come
    /// (in that order, so that a match still behind can start the next refresh).
    async fn refresh_holding(
        self: &Arc<Self>,
        one_at_a_time: tokio::sync::OwnedMutexGuard<()>,
    ) -> Result<()> {
        let refreshed = self.refresh_now().await;
        drop(one_at_a_time);
        if let Some(current) = self.read().as_ref() {
            self.taken_in.send_replace(current.outside);
        }
        refreshed
    }
}

/// Keeps the index current for the life of the server, as a worker: a refresh every second
/// (cheap when nothing changed: one query), logged once and retried while the database is
/// away; the index saved when that is due, and at the stop.
pub struct Refresher {
    index: Arc<MatchIndex>,
    ticks: tokio::time::Interval,
    failing: bool,
}

impl Refresher {
    pub fn new(index: Arc<MatchIndex>) -> Self {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            index,
            ticks,
            failing: false,
        }
    }
}

impl Worker for Refresher {
    const NAME: &'static str = "face-index";

    async fn due(&mut self) {
        self.ticks.tick().await;
    }

    async fn pass(&mut self, _: &Context) {
        match self.index.refresh().await {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(error = %e, "cannot refresh the face index; retrying")
            }
            Err(_) => {}
        }
        self.index.save(Save::WhenDue).await;
    }

    async fn drain(&mut self, _: &Context) {
        self.index.save(Save::IfBehind).await;
    }
}
