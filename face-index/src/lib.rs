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
//! a quarter of the cache lines, and integer distances the compiler vectorises. A built index
//! of many faces holds less: the vectors' coordinates along their first principal axes
//! ([`projection`]), which lead a search to a person's photos in fewer steps, and the whole
//! quantised vectors beside the graph ([`wholes`]), by which the search's candidates are
//! re-ranked before they are returned.
//! The order it proposes is approximate anyway; the exact distance of the caller's re-rank
//! decides.
//!
//! Building one is slow (each insertion searches the graph), so an index is saved with a
//! [`Header`] saying which vectors it holds (model, database, the revision it is current to)
//! and reloaded at the next start when the header still fits ([`saved`]).

pub mod archive;
mod huge_pages;
mod projection;
mod saved;
pub mod synthetic;
mod wholes;

use huge_pages::Mappings;
use projection::Projection;
pub use saved::Header;
use std::collections::HashMap;
use std::path::PathBuf;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};
use wholes::Wholes;

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
    /// Principal axes the graph holds of each vector (`projection`), where that is fewer than
    /// the vectors' own length and the index is built of at least [`PROJECT_FROM`] of them;
    /// 0 keeps whole vectors.
    pub projected_dimensions: usize,
}

/// Measured with `bench` (P8) on face-like data. At 100 000 faces, 300 queries: connectivity 16
/// with expansions 64/96 found the exact best in 95 %, 16 with 64/256 in 99.3 %, 32 with
/// 128/128 in all (its build twice as slow, 28 s on two cores). At a million faces (quantised
/// graph, connectivity 32, expansion_add 128, usearch's SIMD kernels, 1 000 queries checked, a
/// quiet machine) the search's expansion decides recall against time: 128 found the exact best
/// in 98.1 % (p99 0.79 ms), 192 in 99.0 % (0.91 ms), 256 in 99.3 % (1.18 ms). A build expansion
/// of 256 found no more at the same search expansion. With usearch patched to skip the node
/// reads of its key filter and fetch the next node early (`vendor/usearch-patches/README.md`), on a
/// later index: 192 found it in 98.9 % (people in the gallery 99.4 %), 224 in 99.1 % (99.6 %,
/// p99 0.84 ms), 256 in 99.3 % (99.7 %, 0.97 ms). Connectivity 24 (at expansion 288) and 48
/// (at 128) reach 99 % at a million in the same time as 32 at 224, within a run's spread
/// (`bench/FINDINGS.md`). Projected onto 64 principal axes, every kept candidate re-ranked by
/// its whole vector (2026-12-01, same data, both indexes built that hour): at expansion 160 the
/// best photo is found in 99.2 % (people in the gallery 100 %), which whole vectors need 224
/// for, and a search takes 0.63–0.74 ms at p50 against their 0.98 ms (0.81–1.02 ms at p99
/// against 1.65). A step costs the same with half the bytes (the search waits on each read's
/// latency, not on the bytes), but the projected graph leads to the best in fewer: the axes
/// dropped carry mostly the scatter of one person's photos, which the edges no longer follow
/// (on the benchmark's generated faces; real ones differ along few axes too). 32 axes find
/// every person in the gallery at expansion 64 but lose strangers' nearest (67 %); 64 is the
/// balance. Most of the queries 160 misses are strangers, whose nearest photo matches no one
/// anyway.
impl Default for Tuning {
    fn default() -> Self {
        Self {
            connectivity: 32,
            expansion_add: 128,
            expansion_search: 160,
            projected_dimensions: 64,
        }
    }
}

/// The fewest vectors a projection is learned from: a covariance of 128 floats needs many more
/// samples than that, and an index this small is fast with whole vectors anyway.
pub const PROJECT_FROM: usize = 2_000;
/// The most vectors a projection is learned from (evenly spread over the build's).
const PROJECTION_SAMPLE: usize = 50_000;

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
    /// What the graph holds of each vector: its coordinates along these axes, the whole
    /// vectors kept beside it; or (none) the whole vectors in the graph.
    projected: Option<(Projection, Wholes)>,
    /// The keys of each group.
    groups: HashMap<u64, Vec<u64>>,
}

impl FaceIndex {
    /// An empty index for vectors of `dimensions` floats, holding them whole (a projection is
    /// learned when an index is built).
    pub fn new(dimensions: usize, tuning: Tuning) -> Result<Self, IndexError> {
        Self::with(dimensions, tuning, None)
    }

    fn with(
        dimensions: usize,
        tuning: Tuning,
        projected: Option<(Projection, Wholes)>,
    ) -> Result<Self, IndexError> {
        let inner = Index::new(&IndexOptions {
            dimensions: projected
                .as_ref()
                .map_or(dimensions, |(p, _)| p.dimensions()),
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
            projected,
            groups: HashMap::new(),
        })
    }

    /// The vector as the graph holds it.
    fn code(&self, vector: &[f32]) -> Vec<i8> {
        match &self.projected {
            Some((p, _)) => quantise(&p.apply(vector)),
            None => quantise(vector),
        }
    }

    /// Adds one vector (its key not in the index), to the graph and beside it.
    fn insert(&mut self, key: u64, vector: &[f32]) -> Result<(), IndexError> {
        self.inner.add(key, &self.code(vector)).map_err(native)?;
        if let Some((_, wholes)) = &mut self.projected {
            wholes.insert(key, &quantise(vector));
        }
        Ok(())
    }

    /// An index of `entries`, inserted by `threads` threads at once.
    pub fn build(
        dimensions: usize,
        tuning: Tuning,
        entries: &[Entry],
        threads: usize,
    ) -> Result<Self, IndexError> {
        if let Some(bad) = entries.iter().find(|e| e.vector.len() != dimensions) {
            return Err(IndexError::Length {
                expected: dimensions,
                found: bad.vector.len(),
            });
        }
        let before = Mappings::now();
        let keep = tuning.projected_dimensions;
        let projected =
            (keep > 0 && keep < dimensions && entries.len() >= PROJECT_FROM).then(|| {
                let step = entries.len().div_ceil(PROJECTION_SAMPLE);
                let sample: Vec<&[f32]> = entries
                    .iter()
                    .step_by(step)
                    .map(|e| e.vector.as_slice())
                    .collect();
                let mut wholes = Wholes::new(dimensions);
                wholes.reserve(entries.len());
                for e in entries {
                    wholes.insert(e.key, &quantise(&e.vector));
                }
                (Projection::learn(sample.iter().copied(), keep), wholes)
            });
        let mut index = Self::with(dimensions, tuning, projected)?;
        let threads = threads.clamp(1, SEARCHERS);
        index
            .inner
            .reserve_capacity_and_threads(entries.len().max(1024), SEARCHERS)
            .map_err(native)?;
        in_parallel(entries, threads, |e| {
            index
                .inner
                .add(e.key, &index.code(&e.vector))
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
                let found = self
                    .inner
                    .search(&self.code(&e.vector), 4)
                    .map_err(native)?;
                Ok((!found.keys.contains(&e.key)).then_some(*e))
            })?;
            if stranded.is_empty() {
                break;
            }
            for e in &stranded {
                self.remove_key(e.key)?;
                self.insert(e.key, &e.vector)?;
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
        self.inner.memory_usage() + self.projected.as_ref().map_or(0, |(_, w)| w.memory_bytes())
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
            self.insert(*key, vector)?;
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
        if let Some((_, wholes)) = &mut self.projected {
            wholes.remove(key);
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
    /// their distance between the quantised vectors (the whole ones, also where the graph walks
    /// a projection). At most [`SEARCHERS`] calls may run at once.
    pub fn nearest(&self, query: &[f32], count: usize) -> Result<Vec<Neighbour>, IndexError> {
        self.check_length(query)?;
        let to_neighbour = |key, squared: f32| Neighbour {
            key,
            distance: squared.max(0.0).sqrt() / QUANTA_PER_UNIT,
        };
        let Some((_, wholes)) = &self.projected else {
            let found = self.inner.search(&quantise(query), count).map_err(native)?;
            return Ok(found
                .keys
                .into_iter()
                .zip(found.distances)
                .map(|(key, squared)| to_neighbour(key, squared))
                .collect());
        };
        // Every candidate the search kept is re-ranked: asking for them costs the walk nothing.
        let kept = self.inner.expansion_search().max(count);
        let found = self.inner.search(&self.code(query), kept).map_err(native)?;
        let whole = quantise(query);
        let mut ranked: Vec<(i32, u64)> = found
            .keys
            .into_iter()
            .filter_map(|key| Some((wholes::squared_distance(wholes.get(key)?, &whole), key)))
            .collect();
        ranked.sort_unstable();
        Ok(ranked
            .into_iter()
            .take(count)
            .map(|(squared, key)| to_neighbour(key, squared as f32))
            .collect())
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

#[cfg(test)]
mod tests;
