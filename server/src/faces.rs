//! The face engine at start-up (its models checked, or the server does not start) and the
//! `faces backfill` command with its progress bar.

use crate::settings::Settings;
use face_engine::Engine;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;
use std::sync::Arc;

/// One set of models per core: photos are analysed in parallel, each on one core.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The engine, when the installation's model is the built-in one; an error naming the model
/// file when one is missing or not the published one.
pub async fn engine(settings: &Settings) -> Result<Option<Arc<Engine>>, String> {
    if settings.face_model != face_engine::MODEL_NAME {
        tracing::info!(
            face_model = %settings.face_model,
            "no face engine: vectors come with the photos (an external extractor)"
        );
        return Ok(None);
    }
    let dir = settings.face_models_dir.clone();
    let started = std::time::Instant::now();
    let engine = tokio::task::spawn_blocking(move || Engine::load(&dir, workers()))
        .await
        .map_err(|e| format!("loading the face models failed: {e}"))?
        .map_err(|e| format!("{e} (FACE_MODELS_DIR)"))?;
    tracing::info!(
        dir = %settings.face_models_dir.display(),
        model = face_engine::MODEL_NAME,
        ms = started.elapsed().as_millis() as u64,
        "face engine loaded"
    );
    Ok(Some(Arc::new(engine)))
}

/// `dossier faces backfill`: vectors for the photos without one, with a progress bar and a
/// summary.
pub async fn backfill(settings: &Settings, pool: &PgPool, batch: i64) -> Result<(), String> {
    if !(1..=1000).contains(&batch) {
        return Err("--batch-size must be from 1 to 1000".into());
    }
    let engine = engine(settings).await?.ok_or_else(|| {
        format!(
            "FACE_MODEL is {:?}: only the built-in model {:?} can compute vectors here",
            settings.face_model,
            face_engine::MODEL_NAME
        )
    })?;
    let pending = engine::faces::backfill::pending(pool)
        .await
        .map_err(|e| e.to_string())?;
    if pending == 0 {
        println!(
            "no photo waits for a vector: nothing to do (replicated photos keep their Leader's)"
        );
        return Ok(());
    }
    let bar = ProgressBar::new(pending as u64).with_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} photos ({per_sec}, about {eta} left) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let summary =
        engine::faces::backfill::run(pool, engine, &settings.face_model, batch, workers(), |s| {
            bar.set_position(s.analysed());
            bar.set_message(format!("{} with a face", s.described));
        })
        .await
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "analysed {} photos in {seconds:.1} s ({:.1} per second): {} got a vector, {} show no face, {} show several faces, {} are not readable images",
        summary.analysed(),
        summary.analysed() as f64 / seconds.max(0.001),
        summary.described,
        summary.no_face,
        summary.several_faces,
        summary.unreadable
    );
    Ok(())
}
