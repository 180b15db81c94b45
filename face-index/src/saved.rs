//! An index on disk: usearch's graph file, beside it the groups (`.groups`), for a projected
//! index the whole vectors (`.wholes`), and the header (`.json`) saying what it all holds.
//! Building a million faces takes minutes; loading them, seconds.

use super::{native, FaceIndex, IndexError, Projection, Tuning, Wholes, SEARCHERS};
use crate::huge_pages::Mappings;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The layout of the files `save` writes; a file of another layout is rebuilt, not misread.
/// 2: vectors quantised to signed bytes; 3: the graph's projected onto principal axes, the
/// whole ones beside it.
const FORMAT: u32 = 3;

/// The header as written: the caller's [`Header`], the file layout, and the projection the
/// graph's vectors were made with.
#[derive(Serialize, Deserialize)]
struct SavedHeader {
    format: u32,
    #[serde(flatten)]
    header: Header,
    projection: Option<Projection>,
}

/// What a saved index holds, written beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The face model whose vectors these are.
    pub model: String,
    pub dimensions: usize,
    /// Which database the vectors came from (its identity and epoch): an index saved against
    /// another database, or one restored from a backup, is not reused.
    pub database: String,
    /// The revision of the database the index is current to.
    pub revision: i64,
    /// How many vectors it holds, to tell a complete file from a torn one.
    pub count: usize,
}

impl FaceIndex {
    /// Writes the index to `file`, and its groups, whole vectors and header beside it. Each is
    /// written under a temporary name and renamed, the header last, so a crash leaves the old
    /// files or a header that does not fit the new ones (which `load` refuses), never a mix it
    /// accepts.
    pub fn save(&self, file: &Path, header: &Header) -> Result<(), IndexError> {
        let file_error = |path: &Path, e: &dyn std::fmt::Display| IndexError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| file_error(dir, &e))?;
        }
        let graph_tmp = with_suffix(file, ".tmp");
        let text = graph_tmp.to_str().ok_or_else(|| IndexError::File {
            path: graph_tmp.clone(),
            message: "the path is not UTF-8".into(),
        })?;
        self.inner
            .save(text)
            .map_err(|e| file_error(&graph_tmp, &e))?;
        std::fs::rename(&graph_tmp, file).map_err(|e| file_error(file, &e))?;
        let write = |suffix: &str, bytes: &[u8]| {
            let path = with_suffix(file, suffix);
            let tmp = with_suffix(&path, ".tmp");
            std::fs::write(&tmp, bytes).map_err(|e| file_error(&tmp, &e))?;
            std::fs::rename(&tmp, &path).map_err(|e| file_error(&path, &e))
        };
        write(".groups", &self.groups_bytes())?;
        if let Some((_, wholes)) = &self.projected {
            write(".wholes", &wholes.to_bytes())?;
        }
        let saved = SavedHeader {
            format: FORMAT,
            header: header.clone(),
            projection: self.projected.as_ref().map(|(p, _)| p.clone()),
        };
        let json = serde_json::to_vec_pretty(&saved).map_err(|e| file_error(file, &e))?;
        write(".json", &json)
    }

    /// The index saved at `file`, if its header says it holds vectors of `model` from
    /// `database` and the graph has as many vectors as the header says; `None` when there is
    /// none or it does not fit (the caller rebuilds).
    pub fn load(
        file: &Path,
        model: &str,
        dimensions: usize,
        database: &str,
        tuning: Tuning,
    ) -> Result<Option<(Self, Header)>, IndexError> {
        let Ok(json) = std::fs::read(header_path(file)) else {
            return Ok(None);
        };
        let Ok(SavedHeader {
            format,
            header,
            projection,
        }) = serde_json::from_slice(&json)
        else {
            return Ok(None);
        };
        if format != FORMAT
            || header.model != model
            || header.dimensions != dimensions
            || header.database != database
            || projection
                .as_ref()
                .is_some_and(|p| p.input_dimensions() != dimensions)
        {
            return Ok(None);
        }
        let Some(text) = file.to_str() else {
            return Ok(None);
        };
        let Ok(groups) = std::fs::read(with_suffix(file, ".groups")) else {
            return Ok(None);
        };
        let projected = match projection {
            None => None,
            Some(projection) => {
                let Ok(bytes) = std::fs::read(with_suffix(file, ".wholes")) else {
                    return Ok(None);
                };
                match Wholes::from_bytes(dimensions, &bytes) {
                    Some(wholes) if wholes.len() == header.count => Some((projection, wholes)),
                    _ => return Ok(None),
                }
            }
        };
        let before = Mappings::now();
        let mut index = Self::with(dimensions, tuning, projected)?;
        if index.inner.load(text).is_err()
            || index.inner.size() != header.count
            || groups.len() != header.count * 16
        {
            return Ok(None);
        }
        for pair in groups.chunks_exact(16) {
            let (key, group) = pair.split_at(8);
            let [key, group] =
                [key, group].map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
            index.groups.entry(group).or_default().push(key);
        }
        index.inner.change_expansion_search(tuning.expansion_search);
        index
            .inner
            .reserve_capacity_and_threads(index.inner.size().max(1024), SEARCHERS)
            .map_err(native)?;
        Mappings::advise_since(&before);
        Ok(Some((index, header)))
    }

    /// The groups file: (key, group) pairs, little-endian, for the keys the graph holds.
    fn groups_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.inner.size() * 16);
        for (group, keys) in &self.groups {
            for key in keys.iter().filter(|k| self.inner.contains(**k)) {
                bytes.extend_from_slice(&key.to_le_bytes());
                bytes.extend_from_slice(&group.to_le_bytes());
            }
        }
        bytes
    }
}

/// Where the header of the index at `file` is.
pub(crate) fn header_path(file: &Path) -> PathBuf {
    with_suffix(file, ".json")
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}
