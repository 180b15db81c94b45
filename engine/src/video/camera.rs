//! One camera watched: its stream read ([`Source`]), reconnected with backoff when it fails
//! or stalls; its frames analysed on a thread of its own, the latest frame first (a frame that
//! comes while the last is still being analysed replaces the one waiting, so that a slow
//! moment costs frames, never latency); its sightings posted in order, again until the
//! server takes them; and its live status kept for the worker's next report.

use super::analysis::{Analyser, Output};
use super::source::{Pace, Source, StreamError};
use super::station::Station;
use crate::backoff::Backoff;
use crate::monitoring::background::lower_priority;
use chrono::{DateTime, Utc};
use domain::cameras::{CameraState, LeasedCamera, Sighting, StreamReport};
use face_engine::Engine;
use image::RgbImage;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// How long a stream waits before it is opened again after a failure: a second, doubling up
/// to half a minute.
pub const RECONNECT: Backoff = Backoff::doubling(Duration::from_secs(1), Duration::from_secs(30));
/// A stream that ran this long before failing starts its backoff again from the first wait.
const STEADY: Duration = Duration::from_secs(30);
/// How long a post that the server refused for now waits before it is sent again.
const REPOST: Backoff = Backoff::doubling(Duration::from_secs(1), Duration::from_secs(15));
/// The nice value of analysis threads: below the server's requests, so that a busy camera
/// costs its own frames rather than anyone's answer.
const ANALYSIS_NICE: i32 = 5;
/// Sightings (and snapshots) waiting to be posted; when the server is away this many, the
/// analysis waits too (and frames are dropped), so that nothing seen is thrown away.
const WAITING_POSTS: usize = 256;

/// What a camera's worker needs to watch it.
#[derive(Clone)]
pub struct Watching {
    pub engine: Arc<Engine>,
    /// The model of the engine's vectors.
    pub model: String,
    pub ffmpeg: PathBuf,
    pub station: Station,
    pub worker: Arc<str>,
    /// Rung when a camera's state changes, so that its status is reported at once.
    pub changed: Arc<Notify>,
}

/// A camera being watched.
pub struct Watch {
    pub camera: LeasedCamera,
    pub status: Arc<Mutex<Status>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    /// Starts watching `camera`; its sightings are posted by a task of `posters`.
    pub fn start(
        camera: LeasedCamera,
        watching: &Watching,
        posters: &mut tokio::task::JoinSet<()>,
    ) -> Self {
        let status = Arc::new(Mutex::new(Status::default()));
        let stop = CancellationToken::new();
        let (outputs, waiting) = mpsc::channel(WAITING_POSTS);
        posters.spawn(post(waiting, watching.clone(), camera.id, status.clone()));
        let task = tokio::spawn(watch(
            camera.clone(),
            watching.clone(),
            status.clone(),
            outputs,
            stop.clone(),
        ));
        Self {
            camera,
            status,
            stop,
            task,
        }
    }

    /// Stops watching: the stream closes, the tracks open end (their last sightings go to the
    /// poster, which sends them on its own).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// A camera's live status as its worker sees it.
#[derive(Debug, Default)]
pub struct Status {
    state: Option<CameraState>,
    detail: Option<String>,
    size: Option<(u32, u32)>,
    last_frame_at: Option<DateTime<Utc>>,
    next_retry_at: Option<DateTime<Utc>>,
    /// When the frames of the last ten seconds were analysed, and the tracks of the last
    /// minute began.
    analysed: VecDeque<Instant>,
    tracks: VecDeque<Instant>,
    /// The latest snapshot, until it is sent.
    snapshot: Option<Vec<u8>>,
}

const FPS_WINDOW: Duration = Duration::from_secs(10);
const FACES_WINDOW: Duration = Duration::from_secs(60);

impl Status {
    /// What the worker reports of the camera now.
    pub fn report(&mut self, camera: i64) -> StreamReport {
        let now = Instant::now();
        while self.analysed.front().is_some_and(|t| now - *t > FPS_WINDOW) {
            self.analysed.pop_front();
        }
        while self.tracks.front().is_some_and(|t| now - *t > FACES_WINDOW) {
            self.tracks.pop_front();
        }
        let streaming = self.state == Some(CameraState::Streaming);
        StreamReport {
            camera,
            state: self.state.unwrap_or(CameraState::Connecting),
            detail: self.detail.clone(),
            fps: streaming.then(|| self.analysed.len() as f32 / FPS_WINDOW.as_secs_f32()),
            faces_per_minute: streaming.then_some(self.tracks.len() as f32),
            width: self.size.map(|s| s.0 as i32),
            height: self.size.map(|s| s.1 as i32),
            last_frame_at: self.last_frame_at,
            next_retry_at: self.next_retry_at,
        }
    }

    /// The snapshot not yet sent, taken.
    pub fn take_snapshot(&mut self) -> Option<Vec<u8>> {
        self.snapshot.take()
    }

    /// Sets the state; whether it changed.
    fn set(
        &mut self,
        state: CameraState,
        detail: Option<String>,
        retry: Option<DateTime<Utc>>,
    ) -> bool {
        let changed = self.state != Some(state) || self.detail != detail;
        self.state = Some(state);
        self.detail = detail;
        self.next_retry_at = retry;
        changed
    }
}

fn lock(status: &Mutex<Status>) -> std::sync::MutexGuard<'_, Status> {
    status.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads the stream, again and again, until the watch stops.
async fn watch(
    camera: LeasedCamera,
    watching: Watching,
    status: Arc<Mutex<Status>>,
    outputs: mpsc::Sender<Output>,
    stop: CancellationToken,
) {
    let latest = Arc::new(Latest::default());
    let started = Utc::now();
    let prefix = format!(
        "{}.{}.{:x}",
        camera.id,
        camera.lease,
        started.timestamp_millis()
    );
    let analyser = Analyser::new(
        watching.engine.clone(),
        camera.clone(),
        watching.model.clone(),
        prefix,
    );
    let analysis = {
        let (latest, status) = (latest.clone(), status.clone());
        std::thread::Builder::new()
            .name(format!("camera-{}", camera.id))
            .spawn(move || analyse(analyser, &latest, &status, &outputs))
    };
    if let Err(e) = &analysis {
        tracing::error!(camera = camera.id, error = %e, "cannot start the camera's analysis thread");
    }
    let is_file = !camera.url.contains("://") || camera.url.starts_with("file://");
    let mut failures = 0;
    loop {
        if lock(&status).set(CameraState::Connecting, None, None) {
            watching.changed.notify_one();
        }
        let opened = Instant::now();
        let error = match Source::open(&watching.ffmpeg, &camera.url, camera.fps, Pace::Live) {
            Err(e) => e,
            Ok(mut source) => loop {
                tokio::select! {
                    _ = stop.cancelled() => {
                        source.close().await;
                        break StreamError::Ended;
                    }
                    frame = source.next_frame() => match frame {
                        Ok(frame) => {
                            let at = Utc::now();
                            let changed = {
                                let mut s = lock(&status);
                                s.last_frame_at = Some(at);
                                s.size = Some(frame.dimensions());
                                s.set(CameraState::Streaming, None, None)
                            };
                            if changed {
                                watching.changed.notify_one();
                            }
                            latest.put(frame, at);
                        }
                        Err(e) => break e,
                    }
                }
            },
        };
        if stop.is_cancelled() {
            break;
        }
        if opened.elapsed() >= STEADY {
            failures = 0;
        }
        failures += 1;
        let wait = RECONNECT.after(failures);
        let (detail, retry) = if is_file && error == StreamError::Ended {
            // A recording analysed to its end is done, not broken.
            ("the recording was analysed to its end; switch the camera off and on to analyse it again".to_string(), None)
        } else {
            (
                error.to_string(),
                Some(Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default()),
            )
        };
        tracing::info!(camera = camera.id, error = %detail, "camera stream stopped");
        lock(&status).set(CameraState::Failed, Some(detail), retry);
        watching.changed.notify_one();
        if retry.is_none() {
            stop.cancelled().await;
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    latest.close();
    if let Ok(thread) = analysis {
        // The thread ends its tracks and returns; never long, but not on a runtime thread.
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// The analysis thread: the latest frame, analysed; when none comes, lingering tracks end on
/// time all the same; when the watch stops, every track ends.
fn analyse(
    mut analyser: Analyser,
    latest: &Latest,
    status: &Mutex<Status>,
    outputs: &mpsc::Sender<Output>,
) {
    lower_priority(ANALYSIS_NICE);
    let mut out = Vec::new();
    loop {
        let next = latest.take(Duration::from_millis(500));
        let finished = matches!(next, Next::Closed);
        let analysed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match next {
            Next::Frame(frame, at) => Some(analyser.frame(&frame, at, &mut out)),
            Next::Nothing => {
                analyser.tick(Utc::now(), &mut out);
                None
            }
            Next::Closed => {
                analyser.finish(&mut out);
                None
            }
        }));
        match analysed {
            Ok(Some(counts)) => {
                let now = Instant::now();
                let mut s = lock(status);
                s.analysed.push_back(now);
                s.tracks.extend(std::iter::repeat_n(now, counts.new_tracks));
            }
            Ok(None) => {}
            Err(panic) => tracing::error!(
                panic = %crate::workers::panic_message(panic),
                "the analysis of a frame panicked; going on with the next"
            ),
        }
        for output in out.drain(..) {
            if outputs.blocking_send(output).is_err() {
                return;
            }
        }
        if finished {
            return;
        }
    }
}

/// Posts a camera's sightings in order, each until the server takes it (or refuses it for
/// good: it is then logged and dropped), and keeps its snapshots for the next report. Ends
/// when the camera's analysis has ended and everything it gave is sent.
async fn post(
    mut waiting: mpsc::Receiver<Output>,
    watching: Watching,
    camera: i64,
    status: Arc<Mutex<Status>>,
) {
    while let Some(output) = waiting.recv().await {
        match output {
            Output::Snapshot(jpeg) => lock(&status).snapshot = Some(jpeg),
            Output::Sighting(sighting) => send(&watching.station, camera, &sighting).await,
        }
    }
}

async fn send(station: &Station, camera: i64, sighting: &Sighting) {
    let mut failures = 0;
    loop {
        match station.sighting(sighting).await {
            Ok(outcome) => {
                tracing::debug!(camera, track = %sighting.track, ended = sighting.ended, ?outcome, "sighting posted");
                return;
            }
            Err(e)
                if matches!(
                    *e,
                    domain::Error::Unavailable { .. } | domain::Error::TooManyRequests { .. }
                ) =>
            {
                failures += 1;
                if failures == 1 || failures % 10 == 0 {
                    tracing::warn!(camera, track = %sighting.track, error = %e, "a sighting could not be posted; trying again");
                }
                tokio::time::sleep(REPOST.after(failures)).await;
            }
            Err(e) => {
                tracing::error!(camera, track = %sighting.track, error = %e, "a sighting was refused; dropped");
                return;
            }
        }
    }
}

/// A frame and when it arrived.
type Timed = (RgbImage, DateTime<Utc>);

/// The one frame waiting for the analysis: a newer one replaces it; and whether the stream
/// has closed.
#[derive(Default)]
struct Latest {
    slot: Mutex<(Option<Timed>, bool)>,
    ready: Condvar,
}

enum Next {
    Frame(RgbImage, DateTime<Utc>),
    Nothing,
    Closed,
}

impl Latest {
    fn put(&self, frame: RgbImage, at: DateTime<Utc>) {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).0 = Some((frame, at));
        self.ready.notify_one();
    }

    fn close(&self) {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.ready.notify_one();
    }

    /// The waiting frame, or nothing within `wait`, or closed (once the frame waiting is
    /// taken).
    fn take(&self, wait: Duration) -> Next {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let (mut slot, _) = self
            .ready
            .wait_timeout_while(slot, wait, |(frame, closed)| frame.is_none() && !*closed)
            .unwrap_or_else(|e| e.into_inner());
        match slot.0.take() {
            Some((frame, at)) => Next::Frame(frame, at),
            None if slot.1 => Next::Closed,
            None => Next::Nothing,
        }
    }
}
