//! A video worker: holds its cameras' leases (renewed every [`RENEW_EVERY`]), watches each
//! camera it holds ([`Watch`]), reports their status, and stops the cameras it could not renew
//! for [`GIVE_UP_AFTER`] (its database or server away), before their leases run out and
//! another worker takes them: no camera is analysed by two workers at once. The same worker
//! runs inside `dossier serve` and as `dossier video-worker`; only its [`Station`] differs.

use super::camera::{Watch, Watching};
use super::station::Station;
use crate::cameras::leases::{GIVE_UP_AFTER, RENEW_EVERY};
use crate::workers::{Context, Worker};
use domain::cameras::{LeasedCamera, StreamReport};
use face_engine::Engine;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// How long the sightings still waiting at a stop may take to be posted.
const FLUSH_WITHIN: Duration = Duration::from_secs(10);

pub struct VideoWorker {
    watching: Watching,
    capacity: usize,
    cameras: HashMap<i64, Watch>,
    posters: JoinSet<()>,
    /// When the leases were last renewed.
    renewed: Option<Instant>,
    next: tokio::time::Instant,
}

impl VideoWorker {
    /// A worker called `name` that watches up to `capacity` cameras, with `engine` (whose
    /// vectors are of `model`), decoding with `ffmpeg`, its cameras from `station`.
    pub fn new(
        name: &str,
        capacity: usize,
        engine: Arc<Engine>,
        model: &str,
        ffmpeg: PathBuf,
        station: Station,
    ) -> Self {
        Self {
            watching: Watching {
                engine,
                model: model.to_string(),
                ffmpeg,
                station,
                worker: name.into(),
                changed: Arc::new(Notify::new()),
            },
            capacity,
            cameras: HashMap::new(),
            posters: JoinSet::new(),
            renewed: None,
            next: tokio::time::Instant::now(),
        }
    }

    /// The name a worker of this process goes by: its host, its process and when it started,
    /// unique while it runs.
    pub fn name_here() -> String {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".into());
        format!(
            "{host}/{}/{:x}",
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        )
    }

    /// Watches exactly `held`: cameras no longer held, or whose lease or settings changed, are
    /// stopped (and those changed started anew).
    async fn watch_only(&mut self, held: Vec<LeasedCamera>) {
        let held: HashMap<i64, LeasedCamera> = held.into_iter().map(|c| (c.id, c)).collect();
        let gone: Vec<i64> = self
            .cameras
            .iter()
            .filter(|(id, w)| held.get(id) != Some(&w.camera))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(watch) = self.cameras.remove(&id) {
                tracing::info!(camera = id, "no longer watching the camera");
                watch.stop().await;
            }
        }
        for (id, camera) in held {
            if !self.cameras.contains_key(&id) {
                tracing::info!(camera = id, name = %camera.name, "watching the camera");
                let watch = Watch::start(camera, &self.watching, &mut self.posters);
                self.cameras.insert(id, watch);
            }
        }
    }

    async fn report(&mut self) {
        let worker = self.watching.worker.clone();
        let mut reports: Vec<StreamReport> = Vec::new();
        let mut snapshots = Vec::new();
        for (id, watch) in &self.cameras {
            let mut status = watch.status.lock().unwrap_or_else(|e| e.into_inner());
            reports.push(status.report(*id));
            if let Some(jpeg) = status.take_snapshot() {
                snapshots.push((*id, jpeg));
            }
        }
        let station = &self.watching.station;
        if let Err(e) = station.report(&worker, reports).await {
            tracing::warn!(error = %e, "cannot report the cameras' status");
        }
        for (id, jpeg) in snapshots {
            if let Err(e) = station.snapshot(&worker, id, jpeg).await {
                tracing::debug!(camera = id, error = %e, "cannot send the camera's snapshot");
            }
        }
    }

    async fn stop_all(&mut self) {
        for (_, watch) in self.cameras.drain() {
            watch.stop().await;
        }
    }
}

impl Worker for VideoWorker {
    const NAME: &'static str = "video-worker";

    async fn due(&mut self) {
        tokio::select! {
            _ = tokio::time::sleep_until(self.next) => {}
            _ = self.watching.changed.notified() => {}
        }
    }

    async fn pass(&mut self, _context: &Context) {
        while self.posters.try_join_next().is_some() {}
        let now = tokio::time::Instant::now();
        let renew = now >= self.next;
        if renew {
            self.next = now + RENEW_EVERY;
            let worker = self.watching.worker.clone();
            match self.watching.station.hold(&worker, self.capacity).await {
                Ok(leases) if leases.model != self.watching.model => {
                    tracing::error!(
                        server = %leases.model,
                        here = %self.watching.model,
                        "the server matches faces of another model than this worker's engine; watching nothing"
                    );
                    self.renewed = Some(Instant::now());
                    self.watch_only(Vec::new()).await;
                    let _ = self.watching.station.release(&worker).await;
                }
                Ok(leases) => {
                    self.renewed = Some(Instant::now());
                    self.watch_only(leases.cameras).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew the cameras' leases");
                    let lapsed = self.renewed.is_none_or(|at| at.elapsed() >= GIVE_UP_AFTER);
                    if lapsed && !self.cameras.is_empty() {
                        tracing::warn!(
                            cameras = self.cameras.len(),
                            "leases not renewed in time: stopping every camera before another worker takes them"
                        );
                        self.stop_all().await;
                    }
                    return;
                }
            }
        }
        self.report().await;
    }

    async fn drain(&mut self, _context: &Context) {
        self.stop_all().await;
        let flushed = tokio::time::timeout(FLUSH_WITHIN, async {
            while self.posters.join_next().await.is_some() {}
        })
        .await;
        if flushed.is_err() {
            tracing::warn!("sightings still waiting to be posted at the stop were dropped");
            self.posters.shutdown().await;
        }
        let worker = self.watching.worker.clone();
        if let Err(e) = self.watching.station.release(&worker).await {
            tracing::warn!(error = %e, "cannot give the cameras up; they are free when their leases run out");
        }
    }
}
