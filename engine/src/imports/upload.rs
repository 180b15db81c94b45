//! An uploaded ZIP taken in: written to `IMPORT_DIR` as it arrives (never held whole), then
//! checked (a ZIP, one CSV, a usable header, no bomb), its CSV unpacked beside it, and its
//! import queued for the worker. A refused upload leaves no file and no import behind.

use super::csv_file::CsvFile;
use super::record::{self, NewImport};
use super::{source, Imports};
use crate::error::{Error, Result};
use domain::audit::Actor;
use domain::imports::ImportOptions;
use std::path::{Path, PathBuf};

/// An upload being written.
pub struct Part {
    pub path: PathBuf,
    file: tokio::fs::File,
    written: u64,
    limit: u64,
}

impl Imports {
    /// A new file in `IMPORT_DIR` for an upload.
    pub async fn new_part(&self) -> Result<Part> {
        let dir = &self.settings.dir;
        let unwritable = |e: std::io::Error| {
            tracing::error!(dir = %dir.display(), error = %e, "IMPORT_DIR cannot be written");
            Error::internal()
        };
        tokio::fs::create_dir_all(dir).await.map_err(unwritable)?;
        let path = dir.join(format!("upload-{}.part", &crate::auth::new_secret()[..16]));
        let file = tokio::fs::File::create(&path).await.map_err(unwritable)?;
        Ok(Part {
            path,
            file,
            written: 0,
            limit: self.settings.limit.0 as u64,
        })
    }

    /// Checks a written upload and queues its import; answers its id, and whether the same
    /// CSV was being imported already (then that import is the answer, and the upload goes).
    pub async fn accept(
        &self,
        part: PathBuf,
        file_name: String,
        actor: Actor,
        options: ImportOptions,
    ) -> Result<(i64, bool)> {
        let csv = part.with_extension("csv");
        let limit = self.settings.limit.0 as u64;
        let checked = {
            let (part, csv) = (part.clone(), csv.clone());
            tokio::task::spawn_blocking(move || check(&part, &csv, limit))
                .await
                .map_err(|_| Error::internal())
        };
        let sha256 = match checked {
            Ok(Ok(())) => super::file_digest(csv.clone()).await,
            Ok(Err(e)) | Err(e) => Err(e),
        };
        let sha256 = match sha256 {
            Ok(sha256) => sha256,
            Err(e) => {
                remove(&[&part, &csv]);
                return Err(e);
            }
        };
        if let Some(id) = record::unfinished(&self.pool, "zip", &sha256).await? {
            remove(&[&part, &csv]);
            return Ok((id, true));
        }
        let new = NewImport {
            source: "zip",
            file_name,
            sha256,
            actor,
            options,
        };
        let id = record::insert(&self.pool, &new).await?;
        let (zip_at, csv_at) = self.upload_files(id);
        let moved = std::fs::rename(&part, &zip_at).and_then(|_| std::fs::rename(&csv, &csv_at));
        if let Err(e) = moved {
            tracing::error!(import = id, error = %e, "cannot keep an upload in IMPORT_DIR");
            record::finish(
                &self.pool,
                id,
                Some("its files could not be kept in IMPORT_DIR"),
            )
            .await?;
            remove(&[&part, &csv, &zip_at, &csv_at]);
            return Err(Error::internal());
        }
        self.bell.notify_one();
        Ok((id, false))
    }
}

impl Part {
    /// Appends a piece of the upload, refusing it whole once it passes `IMPORT_LIMIT`.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        self.written += bytes.len() as u64;
        if self.written > self.limit {
            return Err(Error(domain::Error::TooLarge {
                message: format!(
                    "the ZIP is larger than the {} an import may be (IMPORT_LIMIT)",
                    domain::bytes::human(self.limit)
                ),
            }));
        }
        self.file.write_all(bytes).await.map_err(|e| {
            tracing::error!(error = %e, "cannot write an upload to IMPORT_DIR");
            Error::internal()
        })
    }

    /// Writes what is buffered; the file is complete.
    pub async fn finish(mut self) -> Result<(PathBuf, u64)> {
        use tokio::io::AsyncWriteExt;
        self.file.flush().await.map_err(|_| Error::internal())?;
        Ok((self.path, self.written))
    }

    /// Gives up on the upload, deleting what was written.
    pub fn discard(self) {
        remove(&[&self.path]);
    }
}

/// The checks of an upload: its ZIP, its one CSV (unpacked to `csv`), the CSV's header.
fn check(zip: &Path, csv: &Path, limit: u64) -> Result<()> {
    let mut opened = source::open_zip(zip, limit)?;
    opened.unpack_csv(csv, limit)?;
    CsvFile::open(csv).map_err(|e| {
        Error::invalid(
            e.field().unwrap_or("file"),
            format!("{} in the ZIP: {}", opened.csv_name, e.message()),
        )
    })?;
    Ok(())
}

fn remove(paths: &[&Path]) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}
