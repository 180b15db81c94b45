//! The approximate nearest-neighbour index monitoring matches faces against: usearch's HNSW
//! graph of face vectors, keyed by photo id, compared by Euclidean distance (the distance the
//! face engine's confidence is defined on).
//!
//! Every vector belongs to a *group* (the photos of one dossier), so that a dossier that changed
//! is replaced as a whole without the caller remembering which photos it had.
//!
//! An HNSW graph is approximate: the caller asks for a few more neighbours than it needs and
//! re-ranks them exactly. The graph holds each vector quantised to one signed byte per float
//! ([`quantise`]): a quarter of the memory, so a million faces' walk through the graph touches
//! a quarter of the cache lines, and integer distances the compiler vectorises. The order it
//! proposes is approximate anyway; the exact distance of the caller's re-rank decides.
//!
//! Building one is slow (each insertion searches the graph), so an index
//! is saved with a [`Header`] saying which vectors it holds (model, database, the revision it is
//! current to) and reloaded at the next start when the header still fits.

mod huge_pages;
pub mod synthetic;

use huge_pages::Mappings;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("face index: {0}")]
    Native(String),
    #[error("face index: a vector has {found} floats, the index holds {expected}")]
    Length { expected: usize, found: usize },
    #[error("face index file {path}: {message}")]
    File { path: PathBuf, message: String },
}

fn native(e: impl std::fmt::Display) -> IndexError {
    IndexError::Native(e.to_string())
}

/// How the graph is built and searched. Face vectors cluster by identity, which HNSW handles
/// well; these were chosen with the benchmark's P8 (recall@1 against an exact scan).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Edges per node.
    pub connectivity: usize,
    /// Candidates kept while inserting (build time against graph quality).
    pub expansion_add: usize,
    /// Candidates kept while searching (speed against recall).
    pub expansion_search: usize,
}

/// Measured with `bench` (P8) on face-like data. At 100 000 faces, 300 queries: connectivity 16
/// with expansions 64/96 found the exact best in 95 %, 16 with 64/256 in 99.3 %, 32 with
/// 128/128 in all (its build twice as slow, 28 s on two cores). At a million faces (quantised
/// graph, connectivity 32, expansion_add 128, usearch's SIMD kernels, 1 000 queries checked, a
/// quiet machine) the search's expansion decides recall against time: 128 found the exact best
/// in 98.1 % (p99 0.79 ms), 192 in 99.0 % (0.91 ms), 256 in 99.3 % (1.18 ms). A build expansion
/// of 256 found no more at the same search expansion. With usearch patched to skip the node
/// reads of its key filter and fetch the next node early (`vendor/usearch/PATCHED.md`), on a
/// later index: 192 found it in 98.9 % (people in the gallery 99.4 %), 224 in 99.1 % (99.6 %,
/// p99 0.84 ms), 256 in 99.3 % (99.7 %, 0.97 ms). 224 is the least expansion that finds the
/// best photo in 99 % of queries; most of those it misses are strangers, whose nearest photo
/// matches no one anyway. Connectivity 24 (at expansion 288) and 48 (at 128) reach 99 % at a
/// million in the same time as 32 at 224, within a run's spread (`bench/FINDINGS.md`).
impl Default for Tuning {
    fn default() -> Self {
        Self {
            connectivity: 32,
            expansion_add: 128,
            expansion_search: 224,
        }
    }
}

/// Steps of the quantised scale per unit of a float: a face descriptor's components lie inside
/// ±1, so ±1 maps onto the signed byte's ±127 and a step is 0.008, a third of the spread of one
/// person's photos along any direction.
const QUANTA_PER_UNIT: f32 = 127.0;

/// A vector as the graph holds it: each float scaled to [`QUANTA_PER_UNIT`] steps, rounded
/// and clamped to a signed byte. (usearch's own conversion scales each vector to unit length
/// first, which is right for cosine and wrong for the Euclidean distance faces are compared
/// by.)
fn quantise(vector: &[f32]) -> Vec<i8> {
    vector
        .iter()
        .map(|x| (x * QUANTA_PER_UNIT).round().clamp(-127.0, 127.0) as i8)
        .collect()
}

/// The layout of the files `save` writes; a file of another layout is rebuilt, not misread.
/// 2: vectors quantised to signed bytes.
const FORMAT: u32 = 2;

/// The header as written: the caller's [`Header`] and the file layout.
#[derive(Serialize, Deserialize)]
struct SavedHeader {
    format: u32,
    #[serde(flatten)]
    header: Header,
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

/// One vector to index: its key, the group it belongs to, its floats.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: u64,
    pub group: u64,
    pub vector: Vec<f32>,
}

/// A stored vector close to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub key: u64,
    /// Euclidean distance to the query.
    pub distance: f32,
}

/// How many searches may run at once: usearch keeps a search context per concurrent caller.
pub const SEARCHERS: usize = 64;

pub struct FaceIndex {
    inner: Index,
    dimensions: usize,
    /// The keys of each group.
    groups: HashMap<u64, Vec<u64>>,
}

impl FaceIndex {
    /// An empty index for vectors of `dimensions` floats.
    pub fn new(dimensions: usize, tuning: Tuning) -> Result<Self, IndexError> {
        let inner = Index::new(&IndexOptions {
            dimensions,
            metric: MetricKind::L2sq,
            quantization: ScalarKind::I8,
            connectivity: tuning.connectivity,
            expansion_add: tuning.expansion_add,
            expansion_search: tuning.expansion_search,
            multi: false,
        })
        .map_err(native)?;
        inner
            .reserve_capacity_and_threads(1024, SEARCHERS)
            .map_err(native)?;
        Ok(Self {
            inner,
            dimensions,
            groups: HashMap::new(),
        })
    }

    /// An index of `entries`, inserted by `threads` threads at once.
    pub fn build(
        dimensions: usize,
        tuning: Tuning,
        entries: &[Entry],
        threads: usize,
    ) -> Result<Self, IndexError> {
        let before = Mappings::now();
        let mut index = Self::new(dimensions, tuning)?;
        if let Some(bad) = entries.iter().find(|e| e.vector.len() != dimensions) {
            return Err(IndexError::Length {
                expected: dimensions,
                found: bad.vector.len(),
            });
        }
        let threads = threads.clamp(1, SEARCHERS);
        index
            .inner
            .reserve_capacity_and_threads(entries.len().max(1024), SEARCHERS)
            .map_err(native)?;
        in_parallel(entries, threads, |e| {
            index
                .inner
                .add(e.key, &quantise(&e.vector))
                .map(|_| None::<()>)
                .map_err(native)
        })?;
        for e in entries {
            index.groups.entry(e.group).or_default().push(e.key);
        }
        index.reconnect(entries, threads, tuning)?;
        Mappings::advise_since(&before);
        Ok(index)
    }

    /// Insertions made at the same time can leave a vector that no edge of the graph leads to,
    /// so that no search ever finds it: a person on a watch list who would never match. (Seen
    /// in about one build in three of 6 000 faces on two threads; not seen single-threaded.)
    /// Every vector is looked up once (at a small expansion: it is its own nearest neighbour),
    /// and those not found are inserted again one at a time and looked up again, for up to
    /// three rounds (one has always been enough).
    fn reconnect(
        &mut self,
        entries: &[Entry],
        threads: usize,
        tuning: Tuning,
    ) -> Result<(), IndexError> {
        const CHECK_EXPANSION: usize = 64;
        self.inner.change_expansion_search(CHECK_EXPANSION);
        let mut stranded: Vec<&Entry> = entries.iter().collect();
        for _ in 0..3 {
            stranded = in_parallel(&stranded, threads, |e| {
                let found = self.inner.search(&quantise(&e.vector), 4).map_err(native)?;
                Ok((!found.keys.contains(&e.key)).then_some(*e))
            })?;
            if stranded.is_empty() {
                break;
            }
            for e in &stranded {
                self.remove_key(e.key)?;
                self.inner
                    .add(e.key, &quantise(&e.vector))
                    .map_err(native)?;
            }
        }
        self.inner.change_expansion_search(tuning.expansion_search);
        Ok(())
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// How many vectors the index holds.
    pub fn len(&self) -> usize {
        self.inner.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes how many candidates a search keeps (speed against recall).
    pub fn set_expansion_search(&self, expansion: usize) {
        self.inner.change_expansion_search(expansion);
    }

    /// Bytes of memory the graph and its vectors take.
    pub fn memory_bytes(&self) -> usize {
        self.inner.memory_usage()
    }

    /// Makes `vectors` (key, floats) the whole of `group`: its keys not among them are removed.
    /// Needs exclusive access: growing the graph moves it, which searches running meanwhile
    /// must not see.
    pub fn replace_group(
        &mut self,
        group: u64,
        vectors: &[(u64, Vec<f32>)],
    ) -> Result<(), IndexError> {
        if let Some((_, bad)) = vectors.iter().find(|(_, v)| v.len() != self.dimensions) {
            return Err(IndexError::Length {
                expected: self.dimensions,
                found: bad.len(),
            });
        }
        for key in self.groups.remove(&group).unwrap_or_default() {
            self.remove_key(key)?;
        }
        let needed = self.inner.size() + vectors.len();
        if needed > self.inner.capacity() {
            let grown = needed.max(self.inner.capacity() * 2).max(1024);
            self.inner
                .reserve_capacity_and_threads(grown, SEARCHERS)
                .map_err(native)?;
        }
        for (key, vector) in vectors {
            self.remove_key(*key)?;
            self.inner.add(*key, &quantise(vector)).map_err(native)?;
        }
        if !vectors.is_empty() {
            self.groups
                .insert(group, vectors.iter().map(|(k, _)| *k).collect());
        }
        Ok(())
    }

    /// Forgets one key (a vector found stale); its group keeps the others.
    pub fn remove_key(&mut self, key: u64) -> Result<(), IndexError> {
        if self.inner.contains(key) {
            self.inner.remove(key).map_err(native)?;
        }
        Ok(())
    }

    fn check_length(&self, vector: &[f32]) -> Result<(), IndexError> {
        if vector.len() == self.dimensions {
            Ok(())
        } else {
            Err(IndexError::Length {
                expected: self.dimensions,
                found: vector.len(),
            })
        }
    }

    /// The `count` stored vectors nearest to `query` (approximately), nearest first, with
    /// their distance between the quantised vectors. At most [`SEARCHERS`] calls may run at
    /// once.
    pub fn nearest(&self, query: &[f32], count: usize) -> Result<Vec<Neighbour>, IndexError> {
        self.check_length(query)?;
        let found = self.inner.search(&quantise(query), count).map_err(native)?;
        Ok(found
            .keys
            .into_iter()
            .zip(found.distances)
            .map(|(key, squared)| Neighbour {
                key,
                distance: squared.max(0.0).sqrt() / QUANTA_PER_UNIT,
            })
            .collect())
    }

    /// Writes the index to `file`, its groups (`file` + `.groups`) and its header (`file` +
    /// `.json`) beside it. Each is written under a temporary name and renamed, the header last,
    /// so a crash leaves the old files or a header that does not fit the new ones (which `load`
    /// refuses), never a mix it accepts.
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
        let groups_path = with_suffix(file, ".groups");
        let groups_tmp = with_suffix(&groups_path, ".tmp");
        std::fs::write(&groups_tmp, self.groups_bytes())
            .map_err(|e| file_error(&groups_tmp, &e))?;
        std::fs::rename(&groups_tmp, &groups_path).map_err(|e| file_error(&groups_path, &e))?;
        let header_path = header_path(file);
        let header_tmp = with_suffix(&header_path, ".tmp");
        let saved = SavedHeader {
            format: FORMAT,
            header: header.clone(),
        };
        let json = serde_json::to_vec_pretty(&saved).map_err(|e| file_error(&header_tmp, &e))?;
        std::fs::write(&header_tmp, json).map_err(|e| file_error(&header_tmp, &e))?;
        std::fs::rename(&header_tmp, &header_path).map_err(|e| file_error(&header_path, &e))
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
        let Ok(SavedHeader { format, header }) = serde_json::from_slice(&json) else {
            return Ok(None);
        };
        if format != FORMAT {
            return Ok(None);
        }
        if header.model != model || header.dimensions != dimensions || header.database != database {
            return Ok(None);
        }
        let Some(text) = file.to_str() else {
            return Ok(None);
        };
        let Ok(groups) = std::fs::read(with_suffix(file, ".groups")) else {
            return Ok(None);
        };
        let before = Mappings::now();
        let mut index = Self::new(dimensions, tuning)?;
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
}

impl FaceIndex {
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

/// `work` on every item, `threads` at a time; what it returned for each, where it returned
/// something.
fn in_parallel<I: Sync, T: Send>(
    items: &[I],
    threads: usize,
    work: impl Fn(&I) -> Result<Option<T>, IndexError> + Sync,
) -> Result<Vec<T>, IndexError> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let work = &work;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(|item| work(item).transpose())
                        .collect::<Result<Vec<T>, IndexError>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(
                worker
                    .join()
                    .unwrap_or_else(|_| Err(native("a builder panicked")))?,
            );
        }
        Ok(all)
    })
}

fn header_path(file: &Path) -> PathBuf {
    with_suffix(file, ".json")
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests;
