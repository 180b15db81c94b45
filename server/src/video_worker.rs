//! `dossier video-worker --server URL`: a video worker on a machine of its own. It takes
//! cameras from the server (leases through the server's API, with the token of a Video worker
//! account in `VIDEO_WORKER_TOKEN`), decodes and analyses them here with its own face engine,
//! and posts what it sees; at SIGTERM its cameras end their tracks, what is waiting is posted,
//! the cameras are given up for another worker to take at once, and it exits 0.

use crate::serve::{stop_signal, STOP_BOUND};
use crate::settings::Settings;
use engine::video::station::{Remote, Station};
use engine::video::worker::VideoWorker;
use engine::workers::{Health, Workers};
use secrecy::SecretString;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub async fn run(settings: &Settings, server: &str, cameras: Option<u32>) -> Result<(), String> {
    let token = std::env::var("VIDEO_WORKER_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(|t| SecretString::from(t.trim().to_string()))
        .ok_or(
            "VIDEO_WORKER_TOKEN must hold the API token of an account in the Video worker group",
        )?;
    let capacity = cameras.map_or(settings.engine.video.cameras.get() as usize, |n| n as usize);
    if !(1..=64).contains(&capacity) {
        return Err("--cameras must be from 1 to 64".into());
    }
    let station =
        Station::Remote(Remote::new(server, token).map_err(|e| format!("--server: {e}"))?);
    let engine = crate::faces::built_in(settings, "a video worker").await?;
    let name = VideoWorker::name_here();
    tracing::info!(worker = %name, server, capacity, "video worker started");
    let stop = CancellationToken::new();
    let mut workers = Workers::new(stop.clone(), Arc::new(Health::default()));
    let ffmpeg = settings.engine.video.ffmpeg.clone();
    workers.start(move || {
        VideoWorker::new(
            &name,
            capacity,
            engine.clone(),
            face_engine::MODEL_NAME,
            ffmpeg.clone(),
            station.clone(),
        )
    });
    let signal = stop_signal().await;
    tracing::info!(
        signal,
        "stopping: the cameras end their tracks and are given up"
    );
    let cut = workers.stop(STOP_BOUND).await;
    if !cut.is_empty() {
        tracing::warn!("cut short; the cameras are free again when their leases run out");
    }
    tracing::info!("stopped");
    Ok(())
}
