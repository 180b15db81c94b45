//! The event archive's faces: every event's vector, quantised like the index's ([`quantise`]),
//! in one column store per UTC day, searched by an exact scan. An archive search asks "where
//! else was this face seen" over a time range and some cameras: it wants every close face, not
//! one nearest, over millions of events of which a filter keeps a part. A scan gives exactly
//! that, and at one signed byte per float a day of 330 000 events is 42 MB that two cores
//! compare in milliseconds (P16 in `BENCHMARKS.md`); an HNSW graph per day would cost minutes
//! of building per million faces and still need the filter and the threshold applied after.
//!
//! Each face carries its capture time (seconds since the epoch, which places it in its day)
//! and a *tag*, a small number the caller gives where the face was seen (a camera of a site):
//! a search names the tags it wants, so the filter is a table lookup inside the scan.

use crate::{quantise, IndexError, Neighbour, QUANTA_PER_UNIT};
use std::collections::{BTreeMap, BinaryHeap, HashMap};

const SECONDS_PER_DAY: i64 = 86_400;
/// Below this many faces to compare a search runs on the calling thread: starting threads
/// costs more than it saves.
const PARALLEL_FROM: usize = 50_000;

/// One face of the archive.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedFace {
    /// The caller's key (an event id).
    pub key: u64,
    /// When it was seen, in seconds since the epoch.
    pub at: i64,
    /// Where it was seen, as the caller numbers places.
    pub tag: u32,
    /// Its quantised vector ([`code`]).
    pub code: Vec<i8>,
}

/// Which faces a search compares.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Seen at or after this time (seconds since the epoch).
    pub from: i64,
    /// Seen before this time.
    pub until: i64,
    /// Seen at one of these tags; none: anywhere.
    pub tags: Option<Vec<u32>>,
}

/// What a search found: the closest faces in its scope, and how many it compared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    pub neighbours: Vec<Neighbour>,
    pub compared: usize,
}

/// A face vector as the archive stores it.
pub fn code(vector: &[f32]) -> Vec<i8> {
    quantise(vector)
}

/// The vector a code stands for (to the quantisation's step).
pub fn decode(code: &[i8]) -> Vec<f32> {
    code.iter()
        .map(|q| f32::from(*q) / QUANTA_PER_UNIT)
        .collect()
}

/// The faces of one day, a column each, in the order they arrived.
#[derive(Default)]
struct Day {
    keys: Vec<u64>,
    times: Vec<i64>,
    tags: Vec<u32>,
    codes: Vec<i8>,
    /// Where each key sits, for the updates of a face seen again better (a camera's track).
    rows: HashMap<u64, u32>,
}

/// Every archived face, by day.
pub struct Archive {
    dimensions: usize,
    days: BTreeMap<i64, Day>,
}

impl Archive {
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            days: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.days.values().map(|d| d.keys.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// Adds a face, or replaces the one of its key in the same day.
    pub fn put(&mut self, face: ArchivedFace) -> Result<(), IndexError> {
        if face.code.len() != self.dimensions {
            return Err(IndexError::Length {
                expected: self.dimensions,
                found: face.code.len(),
            });
        }
        let day = self
            .days
            .entry(face.at.div_euclid(SECONDS_PER_DAY))
            .or_default();
        match day.rows.get(&face.key) {
            Some(&row) => {
                let row = row as usize;
                day.times[row] = face.at;
                day.tags[row] = face.tag;
                let at = row * self.dimensions;
                day.codes[at..at + self.dimensions].copy_from_slice(&face.code);
            }
            None => {
                day.rows.insert(face.key, day.keys.len() as u32);
                day.keys.push(face.key);
                day.times.push(face.at);
                day.tags.push(face.tag);
                day.codes.extend_from_slice(&face.code);
            }
        }
        Ok(())
    }

    /// The code stored under `key`, seen at `at`.
    pub fn get(&self, key: u64, at: i64) -> Option<&[i8]> {
        let day = self.days.get(&at.div_euclid(SECONDS_PER_DAY))?;
        let row = *day.rows.get(&key)? as usize;
        day.codes
            .get(row * self.dimensions..(row + 1) * self.dimensions)
    }

    /// Forgets the days before the one `at` falls in (the retention dropped them).
    pub fn forget_before(&mut self, at: i64) {
        self.days = self.days.split_off(&at.div_euclid(SECONDS_PER_DAY));
    }

    /// The `limit` faces in `scope` closest to `query` and within `max_distance` of it,
    /// closest first.
    pub fn search(
        &self,
        query: &[f32],
        scope: &Scope,
        max_distance: f32,
        limit: usize,
    ) -> Result<Found, IndexError> {
        if query.len() != self.dimensions {
            return Err(IndexError::Length {
                expected: self.dimensions,
                found: query.len(),
            });
        }
        let query = quantise(query);
        let bound = (max_distance.max(0.0) * QUANTA_PER_UNIT).powi(2).ceil() as i64;
        let allowed = scope.tags.as_ref().map(|tags| {
            let mut table = vec![false; tags.iter().max().map_or(0, |t| *t as usize + 1)];
            for t in tags {
                table[*t as usize] = true;
            }
            table
        });
        let slices = self.slices(scope);
        let rows: usize = slices.iter().map(|s| s.rows.len()).sum();
        let task = Task {
            query: &query,
            dimensions: self.dimensions,
            scope,
            allowed: allowed.as_deref(),
            bound: bound.min(i32::MAX as i64) as i32,
            limit,
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let (best, compared) = if rows < PARALLEL_FROM || threads == 1 {
            task.scan(&slices)
        } else {
            let parts = split(&slices, threads);
            std::thread::scope(|s| {
                let handles: Vec<_> = parts
                    .iter()
                    .map(|part| s.spawn(|| task.scan(part)))
                    .collect();
                let (mut all, mut compared) = (Closest::new(limit), 0);
                for h in handles {
                    let (best, n) = h.join().unwrap_or_default();
                    compared += n;
                    for (d, key) in best {
                        all.offer(d, key);
                    }
                }
                (all.into_sorted(), compared)
            })
        };
        Ok(Found {
            neighbours: best
                .into_iter()
                .map(|(d, key)| Neighbour {
                    key,
                    distance: (d as f32).sqrt() / QUANTA_PER_UNIT,
                })
                .collect(),
            compared,
        })
    }

    /// The rows of each day the scope's time range touches.
    fn slices(&self, scope: &Scope) -> Vec<Slice<'_>> {
        let first = scope.from.div_euclid(SECONDS_PER_DAY);
        let last = (scope.until - 1).div_euclid(SECONDS_PER_DAY);
        if scope.until <= scope.from {
            return Vec::new();
        }
        self.days
            .range(first..=last)
            .map(|(number, day)| Slice {
                day,
                rows: 0..day.keys.len(),
                // A day wholly inside the range needs no time check per face.
                whole: *number > first && *number < last,
            })
            .filter(|s| !s.rows.is_empty())
            .collect()
    }
}

/// A run of one day's rows to compare.
#[derive(Clone)]
struct Slice<'a> {
    day: &'a Day,
    rows: std::ops::Range<usize>,
    whole: bool,
}

/// The slices cut into `parts` runs of about equal length, one per thread.
fn split<'a>(slices: &[Slice<'a>], parts: usize) -> Vec<Vec<Slice<'a>>> {
    let total: usize = slices.iter().map(|s| s.rows.len()).sum();
    let share = total.div_ceil(parts).max(1);
    let mut out = vec![Vec::new()];
    let mut room = share;
    for s in slices {
        let mut start = s.rows.start;
        while start < s.rows.end {
            let end = (start + room).min(s.rows.end);
            out.last_mut().expect("never empty").push(Slice {
                rows: start..end,
                ..s.clone()
            });
            room -= end - start;
            start = end;
            if room == 0 {
                out.push(Vec::new());
                room = share;
            }
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// One search's comparison, the same on every thread.
struct Task<'a> {
    query: &'a [i8],
    dimensions: usize,
    scope: &'a Scope,
    allowed: Option<&'a [bool]>,
    /// The greatest squared distance, in quanta, a face may be from the query.
    bound: i32,
    limit: usize,
}

impl Task<'_> {
    /// The closest faces of `slices` (squared distance in quanta, key), closest first, and how
    /// many were compared. The
    /// loop is compiled twice, once for AVX2 where the processor has it (the comparison then
    /// vectorises to 16 byte pairs per instruction; the portable build stops at SSE2's 8).
    fn scan(&self, slices: &[Slice<'_>]) -> (Vec<(i32, u64)>, usize) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the processor was just found to have AVX2.
                return unsafe { self.scan_avx2(slices) };
            }
        }
        self.scan_rows(slices)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn scan_avx2(&self, slices: &[Slice<'_>]) -> (Vec<(i32, u64)>, usize) {
        self.scan_rows(slices)
    }

    #[inline(always)]
    fn scan_rows(&self, slices: &[Slice<'_>]) -> (Vec<(i32, u64)>, usize) {
        let mut closest = Closest::new(self.limit);
        let mut compared = 0;
        for s in slices {
            let day = s.day;
            for row in s.rows.clone() {
                if !s.whole && !(self.scope.from..self.scope.until).contains(&day.times[row]) {
                    continue;
                }
                if let Some(allowed) = self.allowed {
                    if !allowed
                        .get(day.tags[row] as usize)
                        .copied()
                        .unwrap_or(false)
                    {
                        continue;
                    }
                }
                compared += 1;
                let code = &day.codes[row * self.dimensions..(row + 1) * self.dimensions];
                let d = squared_distance(self.query, code);
                if d <= self.bound.min(closest.worst()) {
                    closest.offer(d, day.keys[row]);
                }
            }
        }
        (closest.into_sorted(), compared)
    }
}

/// The `limit` closest seen so far: a max-heap whose top is the one to drop next.
struct Closest {
    limit: usize,
    heap: BinaryHeap<(i32, u64)>,
}

impl Closest {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            heap: BinaryHeap::with_capacity(limit + 1),
        }
    }

    /// The distance a face must not exceed to enter.
    fn worst(&self) -> i32 {
        if self.heap.len() < self.limit {
            i32::MAX
        } else {
            self.heap.peek().map_or(i32::MAX, |t| t.0)
        }
    }

    fn offer(&mut self, d: i32, key: u64) {
        self.heap.push((d, key));
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
    }

    fn into_sorted(self) -> Vec<(i32, u64)> {
        self.heap.into_sorted_vec()
    }
}

/// The squared distance of two codes.
#[inline(always)]
fn squared_distance(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = i32::from(i16::from(*x) - i16::from(*y));
            d * d
        })
        .sum()
}

#[cfg(test)]
mod tests;
