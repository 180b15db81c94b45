//! Where an import's photos come from: a folder (the command line's `--photos`) or the ZIP
//! uploaded with the CSV. Either way a row's photo name is looked up inside it and never
//! outside (`domain::imports::photo_name` refused `..` already; a folder's links are followed
//! and checked too), and no photo is read past the size a photo may have. Blocking: the run
//! calls it on the blocking pool.
//!
//! A ZIP is read entry by entry, never unpacked to disk. A ZIP bomb is stopped three ways:
//! the entries' declared sizes together are bounded, no entry is read past its declared size
//! (a header that lies is caught), and a photo past the photo limit is refused unread.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// How many times its own size a ZIP may unpack to, all entries together: photos do not
/// shrink in a ZIP, and a CSV shrinks a few times, so more is a bomb.
pub const MAX_UNPACKED_RATIO: u64 = 10;

/// A row's photos, as the import finds them.
pub enum Photos {
    /// No photos were given (the command line without `--photos`).
    None,
    Folder(Folder),
    Zip(ZipPhotos),
}

impl Photos {
    /// The bytes of the photo `name` (a name [`domain::imports::photo_name`] made), or why
    /// there are none, as the report says it.
    pub fn read(&mut self, name: &str, limit: u64) -> std::result::Result<Vec<u8>, String> {
        match self {
            Self::None => Err(format!(
                "photos: {name:?} is named, but no photos were given with the file"
            )),
            Self::Folder(folder) => folder.read(name, limit),
            Self::Zip(zip) => zip.read(name, limit),
        }
    }
}

/// A folder of photos.
pub struct Folder {
    root: PathBuf,
}

impl Folder {
    pub fn open(root: &Path) -> Result<Self> {
        let root = root.canonicalize().map_err(|e| {
            Error::invalid(
                "photos",
                format!("{} cannot be opened: {e}", root.display()),
            )
        })?;
        if !root.is_dir() {
            return Err(Error::invalid(
                "photos",
                format!("{} is not a folder", root.display()),
            ));
        }
        Ok(Self { root })
    }

    fn read(&self, name: &str, limit: u64) -> std::result::Result<Vec<u8>, String> {
        let missing = || format!("photos: {name:?} is not in the photos folder");
        let path = self.root.join(name).canonicalize().map_err(|_| missing())?;
        // A link inside the folder may point anywhere: where it leads must be inside too.
        if !path.starts_with(&self.root) {
            return Err(format!("photos: {name:?} leads outside the photos folder"));
        }
        let file = File::open(&path).map_err(|_| missing())?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if !path.is_file() {
            return Err(format!("photos: {name:?} is not a file"));
        }
        if size > limit {
            return Err(too_large(name, size, limit));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("photos: {name:?} cannot be read: {e}"))?;
        if bytes.len() as u64 > limit {
            return Err(too_large(name, bytes.len() as u64, limit));
        }
        Ok(bytes)
    }
}

fn too_large(name: &str, size: u64, limit: u64) -> String {
    format!(
        "photos: {name:?} is {}, over the {} a photo may be (UPLOAD_LIMIT)",
        domain::bytes::human(size),
        domain::bytes::human(limit)
    )
}

/// The photos of an uploaded ZIP, by name.
pub struct ZipPhotos {
    archive: zip::ZipArchive<File>,
    /// Each file entry's name, as [`domain::imports::photo_name`] writes it, to its index.
    entries: HashMap<String, usize>,
    /// The folder the CSV is in: photo names are looked up beside it first.
    beside: String,
}

/// A ZIP opened and checked, with the CSV it holds.
pub struct Opened {
    pub photos: ZipPhotos,
    /// The CSV's name in the ZIP.
    pub csv_name: String,
    csv_index: usize,
}

fn unusable(message: impl Into<String>) -> Error {
    Error::invalid("file", message)
}

/// Opens an uploaded ZIP: it must be one, hold exactly one CSV, and unpack to no more than
/// [`MAX_UNPACKED_RATIO`] times `limit` (the largest upload).
pub fn open_zip(path: &Path, limit: u64) -> Result<Opened> {
    let file = File::open(path).map_err(|e| {
        tracing::error!(path = %path.display(), error = %e, "an upload's ZIP cannot be opened");
        Error::internal()
    })?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| unusable(format!("is not a ZIP archive that can be read: {e}")))?;
    let mut entries = HashMap::new();
    let mut csvs = Vec::new();
    let mut unpacked = 0_u64;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| unusable(format!("entry {} of the ZIP cannot be read: {e}", i + 1)))?;
        unpacked = unpacked.saturating_add(entry.size());
        // Folders, links, encrypted entries and names that would lead outside are never read.
        if !entry.is_file() || entry.encrypted() || entry.enclosed_name().is_none() {
            continue;
        }
        let Ok(name) = entry.name().map(|n| n.to_string()) else {
            continue;
        };
        let Ok(name) = domain::imports::photo_name(&name) else {
            continue;
        };
        // What a Mac's archiver adds beside every file.
        if name.starts_with("__MACOSX/") {
            continue;
        }
        if name.to_lowercase().ends_with(".csv") {
            csvs.push((name.clone(), i));
        }
        entries.insert(name, i);
    }
    let most = limit.saturating_mul(MAX_UNPACKED_RATIO);
    if unpacked > most {
        return Err(unusable(format!(
            "unpacks to {}, over the {} an import may hold (is it a ZIP bomb?)",
            domain::bytes::human(unpacked),
            domain::bytes::human(most)
        )));
    }
    let (csv_name, csv_index) = match csvs.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(unusable(
                "holds no .csv file: put the CSV of people in the ZIP beside its photos",
            ))
        }
        several => {
            let names: Vec<&str> = several.iter().map(|(n, _)| n.as_str()).collect();
            return Err(unusable(format!(
                "holds {} CSV files ({}); it must hold one",
                names.len(),
                names.join(", ")
            )));
        }
    };
    let beside = match csv_name.rsplit_once('/') {
        Some((folder, _)) => format!("{folder}/"),
        None => String::new(),
    };
    Ok(Opened {
        photos: ZipPhotos {
            archive,
            entries,
            beside,
        },
        csv_name,
        csv_index,
    })
}

impl Opened {
    /// Unpacks the CSV to `to` (at most `limit` bytes).
    pub fn unpack_csv(&mut self, to: &Path, limit: u64) -> Result<()> {
        let mut entry = self
            .photos
            .archive
            .by_index(self.csv_index)
            .map_err(|e| unusable(format!("{} cannot be unpacked: {e}", self.csv_name)))?;
        let declared = entry.size();
        if declared > limit {
            return Err(unusable(format!(
                "{} is {}, over the {} a CSV may be",
                self.csv_name,
                domain::bytes::human(declared),
                domain::bytes::human(limit)
            )));
        }
        let mut out = File::create(to).map_err(|e| {
            tracing::error!(path = %to.display(), error = %e, "cannot write an import's CSV");
            Error::internal()
        })?;
        let copied = std::io::copy(&mut (&mut entry).take(declared + 1), &mut out)
            .map_err(|e| unusable(format!("{} cannot be unpacked: {e}", self.csv_name)))?;
        if copied > declared {
            return Err(unusable(format!(
                "{} unpacks to more than its entry says (is it a ZIP bomb?)",
                self.csv_name
            )));
        }
        out.flush().map_err(|_| Error::internal())?;
        Ok(())
    }
}

impl ZipPhotos {
    fn read(&mut self, name: &str, limit: u64) -> std::result::Result<Vec<u8>, String> {
        let index = self
            .entries
            .get(&format!("{}{name}", self.beside))
            .or_else(|| self.entries.get(name))
            .copied()
            .ok_or_else(|| format!("photos: {name:?} is not in the ZIP"))?;
        let mut entry = self
            .archive
            .by_index(index)
            .map_err(|e| format!("photos: {name:?} cannot be unpacked: {e}"))?;
        let declared = entry.size();
        if declared > limit {
            return Err(too_large(name, declared, limit));
        }
        let mut bytes = Vec::with_capacity(declared as usize);
        (&mut entry)
            .take(declared + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("photos: {name:?} cannot be unpacked: {e}"))?;
        if bytes.len() as u64 > declared {
            return Err(format!(
                "photos: {name:?} unpacks to more than its entry says (is it a ZIP bomb?)"
            ));
        }
        Ok(bytes)
    }
}
