//! The worker that runs uploaded imports: each queued one in turn, and at start-up those a
//! stopped server left halfway (their ZIPs wait in `IMPORT_DIR`). At a stop the import in
//! hand ends its batch and stays `running`, for the next start to resume.

use super::source::{self, Photos};
use super::{record, Imports, Outcome};
use crate::workers::{Context, Worker};
use std::time::Duration;

/// How often the worker looks for uploads without being rung (one left by a stopped server).
const LOOK_EVERY: Duration = Duration::from_secs(30);

pub struct ImportRunner {
    imports: Imports,
    first: bool,
    tidied: bool,
}

impl ImportRunner {
    pub fn new(imports: Imports) -> Self {
        Self {
            imports,
            first: true,
            tidied: false,
        }
    }
}

impl Worker for ImportRunner {
    const NAME: &'static str = "imports";

    async fn due(&mut self) {
        if std::mem::take(&mut self.first) {
            return;
        }
        let _ = tokio::time::timeout(LOOK_EVERY, self.imports.bell.notified()).await;
    }

    async fn pass(&mut self, context: &Context) {
        if !std::mem::replace(&mut self.tidied, true) {
            tidy(&self.imports.settings.dir);
        }
        let waiting = match record::waiting_uploads(&self.imports.pool).await {
            Ok(waiting) => waiting,
            Err(e) => return tracing::warn!(error = %e, "cannot read the queued imports"),
        };
        for id in waiting {
            if context.stop.is_cancelled() {
                return;
            }
            run_upload(&self.imports, id, context).await;
        }
    }
}

/// Runs upload `id` from its files; when it ends they are deleted.
async fn run_upload(imports: &Imports, id: i64, context: &Context) {
    let (zip, csv) = imports.upload_files(id);
    let opened = {
        let (zip, limit) = (zip.clone(), imports.settings.limit.0 as u64);
        tokio::task::spawn_blocking(move || source::open_zip(&zip, limit)).await
    };
    let photos = match opened {
        Ok(Ok(opened)) => Photos::Zip(opened.photos),
        Ok(Err(e)) => {
            tracing::error!(import = id, error = %e, "an upload's ZIP cannot be read again");
            return fail(
                imports,
                id,
                "its ZIP is gone from IMPORT_DIR or cannot be read",
            )
            .await;
        }
        Err(_) => return,
    };
    tracing::info!(import = id, "import started");
    match imports
        .run(id, &csv, photos, &context.stop, || {}, |_| {})
        .await
    {
        Ok(Outcome::Finished(import)) => {
            tracing::info!(import = id, summary = %super::summary(&import), "import ended");
            for file in [zip, csv] {
                let _ = std::fs::remove_file(file);
            }
        }
        Ok(Outcome::Stopped) => tracing::info!(import = id, "import paused by the stop"),
        Err(e) => tracing::warn!(import = id, error = %e, "import interrupted; it is tried again"),
    }
}

/// Deletes the uploads a stopped server was still receiving (an hour old or more): nobody
/// will finish them.
fn tidy(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if name.starts_with("upload-") && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

async fn fail(imports: &Imports, id: i64, why: &str) {
    if let Err(e) = record::finish(&imports.pool, id, Some(why)).await {
        tracing::warn!(import = id, error = %e, "cannot mark an import failed");
    }
}
