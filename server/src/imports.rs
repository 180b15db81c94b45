//! `dossier import FILE.csv --photos DIR`: a bulk import from the command line, with a
//! progress bar, a summary, and the refused rows written to a report beside it. Killed, the
//! same command goes on where it stopped.

use crate::settings::Settings;
use domain::audit::Actor;
use domain::imports::{Import, ImportOptions, ImportState};
use engine::imports::record::{self, NewImport};
use engine::imports::source::{Folder, Photos};
use engine::imports::{CsvFile, Imports, Outcome};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the command was asked.
pub struct ImportCommand {
    pub file: PathBuf,
    pub photos: Option<PathBuf>,
    pub create_lists: bool,
    pub list: Option<String>,
    pub report: Option<PathBuf>,
}

pub async fn run(settings: &Settings, pool: &PgPool, ask: ImportCommand) -> Result<(), String> {
    let said = |e: engine::Error| match e.field() {
        Some(field) => format!("{}: {field}: {}", ask.file.display(), e.message()),
        None => e.to_string(),
    };
    let options = ImportOptions::parse(ask.create_lists, ask.list.as_deref().unwrap_or(""))
        .map_err(|e| format!("--list: {}", e.message()))?;
    // The file's header is checked before anything is written or loaded.
    let path = ask.file.clone();
    tokio::task::spawn_blocking(move || CsvFile::open(&path).map(|_| ()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(&said)?;
    let photos = match &ask.photos {
        Some(dir) => {
            Photos::Folder(Folder::open(dir).map_err(|e| format!("--photos: {}", e.message()))?)
        }
        None => Photos::None,
    };
    let sha256 = engine::imports::file_digest(ask.file.clone())
        .await
        .map_err(&said)?;
    let id = match record::unfinished(pool, "folder", &sha256)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(id) => {
            let before = record::get(pool, id).await.map_err(|e| e.to_string())?;
            println!(
                "resuming import {id} of {}: {} rows were imported before it stopped",
                before.file_name, before.rows_done
            );
            id
        }
        None => {
            let new = NewImport {
                source: "folder",
                file_name: file_name(&ask.file),
                sha256,
                actor: Actor {
                    id: None,
                    name: "command line (import)".into(),
                    address: None,
                },
                options,
            };
            record::insert(pool, &new)
                .await
                .map_err(|e| e.to_string())?
        }
    };
    let imports = imports(settings, pool).await?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} rows ({per_sec}, about {eta} left) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let outcome = imports
        .run(
            id,
            &ask.file,
            photos,
            &stop,
            || println!("another import is running; this one starts when it ends"),
            |p| {
                bar.set_length(p.total);
                bar.set_position(p.done);
                bar.set_message(format!(
                    "{} created, {} updated, {} refused",
                    p.counts.created, p.counts.updated, p.counts.refused
                ));
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let Outcome::Finished(import) = outcome else {
        return Err("the import was stopped; run the same command to go on".into());
    };
    if import.state == ImportState::Failed {
        return Err(format!(
            "import {id} failed, nothing of it was written: {}",
            import.error.unwrap_or_default()
        ));
    }
    println!("{}", engine::imports::summary(&import));
    if import.refused > 0 {
        let report = ask
            .report
            .unwrap_or_else(|| PathBuf::from(format!("import-{id}-refused.csv")));
        write_report(pool, &import, &report).await?;
        println!(
            "the {} refused rows, each with its line and reason, are in {}",
            import.refused,
            report.display()
        );
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The installation's imports with its face engine, when the model is the built-in one
/// (another model's photos are stored without vectors, for its extractor to fill).
async fn imports(settings: &Settings, pool: &PgPool) -> Result<Imports, String> {
    let faces = &settings.engine.faces;
    let model = faces.model().map_err(|e| e.to_string())?;
    let engine = engine::faces::load_engine(&model, &faces.models_dir).await?;
    let faces = engine::faces::Faces {
        pool: pool.clone(),
        model,
        engine,
        recent: Default::default(),
        gate: faces.gate(),
    };
    Ok(Imports::new(
        pool.clone(),
        faces,
        settings.engine.imports.clone(),
    ))
}

async fn write_report(pool: &PgPool, import: &Import, to: &Path) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot write the report {}: {e}", to.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(to).map_err(cannot)?);
    let mut report = std::pin::pin!(engine::exports::refusals_csv(pool.clone(), import.id));
    while let Some(chunk) = report.next().await {
        out.write_all(&chunk.map_err(|e| e.to_string())?)
            .map_err(cannot)?;
    }
    out.flush().map_err(cannot)
}
