//! The commands that need the built-in face engine: `faces backfill`, with its progress bar
//! and summary, and the real faces of `demo-data --photos`.

use crate::settings::Settings;
use face_engine::Engine;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;
use std::sync::Arc;

/// The built-in engine for `what`, which cannot be done with another model's vectors.
pub async fn built_in(settings: &Settings, what: &str) -> Result<Arc<Engine>, String> {
    let model = settings.engine.faces.model().map_err(|e| e.to_string())?;
    engine::faces::load_engine(&model, &settings.engine.faces.models_dir)
        .await?
        .ok_or_else(|| {
            format!(
                "{what} needs the built-in face engine {:?}, and FACE_MODEL is {:?}",
                face_engine::MODEL_NAME,
                model.name
            )
        })
}

/// `dossier faces backfill`: vectors for the photos without one, with a progress bar and a
/// summary.
pub async fn backfill(settings: &Settings, pool: &PgPool, batch: i64) -> Result<(), String> {
    if !(1..=1000).contains(&batch) {
        return Err("--batch-size must be from 1 to 1000".into());
    }
    let engine = built_in(settings, "computing vectors").await?;
    let model = face_engine::MODEL_NAME;
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
    let workers = engine::faces::engine_workers();
    let summary = engine::faces::backfill::run(pool, engine, model, batch, workers, |s| {
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
