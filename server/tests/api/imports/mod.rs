//! Bulk imports: rows imported or refused with their line and reason, a second import that
//! changes nothing, an import stopped or killed halfway that the next run finishes, and the
//! ZIP uploads with their bad cases.

mod resume;
mod rows;
mod uploads;

use crate::helpers::TestApp;
use domain::imports::{Import, ImportOptions, Refusal};
use engine::imports::record::{self, NewImport};
use engine::imports::source::Photos;
use engine::imports::Outcome;
use std::path::{Path, PathBuf};

/// A folder of this test's own, made empty.
pub fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dossier-import-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts (or resumes) the import of `csv` as the command line does, and runs it to its end.
pub async fn import(app: &TestApp, csv: &Path, photos: Photos, options: ImportOptions) -> Import {
    let sha256 = engine::imports::file_digest(csv.to_path_buf())
        .await
        .unwrap();
    let id = match record::unfinished(&app.pool, "folder", &sha256)
        .await
        .unwrap()
    {
        Some(id) => id,
        None => {
            let new = NewImport {
                source: "folder",
                file_name: "people.csv".into(),
                sha256,
                actor: crate::helpers::test_actor(),
                options,
            };
            record::insert(&app.pool, &new).await.unwrap()
        }
    };
    let stop = tokio_util::sync::CancellationToken::new();
    match app
        .state
        .imports
        .run(id, csv, photos, &stop, || {}, |_| {})
        .await
        .unwrap()
    {
        Outcome::Finished(import) => *import,
        Outcome::Stopped => panic!("nothing stopped the import"),
    }
}

/// Every row an import refused.
pub async fn refusals(app: &TestApp, id: i64) -> Vec<Refusal> {
    record::refusals(&app.pool, id, 10_000).await.unwrap()
}

/// The reason of the refused row at `line`.
pub fn reason(refusals: &[Refusal], line: i64) -> &str {
    refusals
        .iter()
        .find(|r| r.line == line)
        .map(|r| r.reason.as_str())
        .unwrap_or_else(|| panic!("line {line} was not refused: {refusals:?}"))
}
