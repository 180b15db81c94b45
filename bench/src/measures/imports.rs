//! P17: a bulk import's speed. Rows a second without photos (a CSV of people with keys, lists
//! and meta; then the same file again, every row found unchanged), and photos a second with
//! them, against the backfill's rate (P11's measure) over the same photos with the same cores
//! in the same run: both are bound by the face engine, and the import also reads the files,
//! plans its rows and stores the images.

use super::faces;
use crate::cluster::{BenchResult, Cluster};
use crate::Args;
use domain::imports::ImportOptions;
use engine::imports::record::{self, NewImport};
use engine::imports::source::{Folder, Photos};
use engine::imports::{ImportSettings, Imports, Outcome};
use face_engine::Engine;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct ImportRun {
    pub rows: u64,
    pub rows_per_second: f64,
    /// The same file imported again: every row read, compared and left.
    pub again_per_second: f64,
    pub photos: u64,
    pub photos_per_second: f64,
    /// The backfill's rate over the same photos (the baseline).
    pub backfill_per_second: f64,
    pub photo_ratio: f64,
    pub workers: usize,
}

pub async fn p17(cluster: &Cluster, args: &Args) -> BenchResult<ImportRun> {
    let workers = engine::faces::engine_workers();
    let engine = Arc::new(
        Engine::load(&args.face_models, workers)
            .map_err(|e| format!("{e}: run scripts/install-tools.sh first"))?,
    );
    let jpegs = faces::test_jpegs(&args.test_photos)?;
    let (seconds, described) =
        faces::backfill(cluster, &engine, &jpegs, args.import_photos, workers).await?;
    let backfill_per_second = described as f64 / seconds;

    let pool = cluster.prepare("imports").await?;
    crate::data::watch_list(&pool, "Bench: imports").await?;
    let faces = engine::faces::Faces {
        pool: pool.clone(),
        model: engine::faces::FaceModel {
            name: face_engine::MODEL_NAME.into(),
            vector_length: face_engine::VECTOR_LENGTH,
        },
        engine: Some(engine),
        recent: Default::default(),
        gate: Default::default(),
    };
    let settings = ImportSettings {
        photo_limit: 20 * 1024 * 1024,
        ..ImportSettings::default()
    };
    let imports = Imports::new(pool.clone(), faces, settings);
    let dir = std::env::temp_dir().join(format!("dossier-bench-imports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("photos"))?;

    let mut csv = String::from("external_key,name,comment,active,lists,meta.case\n");
    for n in 0..args.import_rows {
        writeln!(csv, "P-{n},Person {n},imported,yes,Bench: imports,C-{n}")?;
    }
    let rows_file = dir.join("rows.csv");
    std::fs::write(&rows_file, csv)?;
    let (rows_seconds, created) = timed(&imports, &rows_file, Photos::None).await?;
    if created != args.import_rows as i64 {
        return Err(format!("{created} of {} rows were imported", args.import_rows).into());
    }
    let (again_seconds, _) = timed(&imports, &rows_file, Photos::None).await?;

    let mut csv = String::from("external_key,name,lists,photos\n");
    for n in 0..args.import_photos {
        std::fs::write(
            dir.join(format!("photos/{n}.jpg")),
            faces::distinct(&jpegs, n)?,
        )?;
        writeln!(csv, "F-{n},Face {n},Bench: imports,{n}.jpg")?;
    }
    let photos_file = dir.join("photos.csv");
    std::fs::write(&photos_file, csv)?;
    let folder = Photos::Folder(Folder::open(&dir.join("photos"))?);
    let (photo_seconds, with_photos) = timed(&imports, &photos_file, folder).await?;
    if with_photos != args.import_photos as i64 {
        return Err(format!(
            "{with_photos} of {} photos were imported",
            args.import_photos
        )
        .into());
    }
    pool.close().await;
    cluster.drop_database("imports").await?;
    let _ = std::fs::remove_dir_all(&dir);
    let photos_per_second = args.import_photos as f64 / photo_seconds;
    Ok(ImportRun {
        rows: args.import_rows,
        rows_per_second: args.import_rows as f64 / rows_seconds,
        again_per_second: args.import_rows as f64 / again_seconds,
        photos: args.import_photos,
        photos_per_second,
        backfill_per_second,
        photo_ratio: photos_per_second / backfill_per_second,
        workers,
    })
}

/// Imports `csv` to its end; its seconds and the dossiers it created.
async fn timed(imports: &Imports, csv: &Path, photos: Photos) -> BenchResult<(f64, i64)> {
    let new = NewImport {
        source: "folder",
        file_name: "bench.csv".into(),
        sha256: engine::imports::file_digest(csv.to_path_buf()).await?,
        actor: domain::audit::Actor {
            id: None,
            name: "benchmark".into(),
            address: None,
        },
        options: ImportOptions::default(),
    };
    let id = record::insert(&imports.pool, &new).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let t = Instant::now();
    let outcome = imports.run(id, csv, photos, &stop, || {}, |_| {}).await?;
    let seconds = t.elapsed().as_secs_f64();
    match outcome {
        Outcome::Finished(import) if import.refused == 0 => Ok((seconds, import.created)),
        Outcome::Finished(import) => {
            let why = record::refusals(&imports.pool, id, 3).await?;
            Err(format!("{} rows were refused, e.g. {why:?}", import.refused).into())
        }
        Outcome::Stopped => Err("the import stopped".into()),
    }
}

/// P17 alone.
pub async fn imports_only(args: &Args) -> BenchResult<()> {
    let p17 = p17(&super::cluster(args)?, args).await?;
    println!("{}", serde_json::to_string_pretty(&p17)?);
    Ok(())
}

impl ImportRun {
    /// Whether P17's goals are met.
    pub fn met(&self) -> bool {
        self.rows_per_second >= 5000.0 && self.photo_ratio >= 0.8
    }
}

/// P17's line of the report, with its `verdict`.
pub fn report_row(s: &mut String, i: &ImportRun, verdict: &str) {
    let _ = writeln!(
        s,
        "| P17 | bulk import: {} rows without photos (keys, lists, meta), then the same file again (all unchanged); {} rows with a photo each, {} workers | {:.0} rows/s; again {:.0} rows/s; {:.1} photos/s | the backfill over the same photos: {:.1} photos/s | {:.2}× the backfill's rate | ≥ 5 000 rows/s; photos ≥ 0.8× the backfill | {} |",
        i.rows,
        i.photos,
        i.workers,
        i.rows_per_second,
        i.again_per_second,
        i.photos_per_second,
        i.backfill_per_second,
        i.photo_ratio,
        verdict
    );
}
