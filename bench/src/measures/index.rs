//! P8: monitoring's face index against an exact scan of the same vectors, in this process.
//! Face-like data (identities with a few photos each, spread as dlib's model spreads one
//! person's photos; `face_index::synthetic`), not uniform random vectors. Queries are new photos
//! of people in the gallery and of strangers; a query's index answer is its 32 candidates
//! re-ranked exactly, as matching does, and recall@1 is how often that answer's best photo is
//! the exact scan's.

use super::stats::percentiles;
use super::tail::{self, MemoryTail};
use crate::cluster::BenchResult;
use domain::similarity::distance;
use face_index::synthetic::Faces;
use face_index::{Entry, FaceIndex, Tuning};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Candidates the index proposes per query (as `engine::monitoring::matching` asks).
pub const CANDIDATES: usize = 32;
const DIMENSIONS: usize = 128;
/// Every tenth query (this remainder) is a photo of a stranger.
const STRANGER: usize = 9;

#[derive(Debug, Serialize)]
pub struct IndexRun {
    pub faces: usize,
    pub connectivity: usize,
    pub expansion_add: usize,
    pub expansion_search: usize,
    pub projected_dimensions: usize,
    pub identities: usize,
    pub threads: usize,
    pub build_seconds: f64,
    /// The index was built by an earlier run and kept (`--index-keep`); `build_seconds` and
    /// `threads` are that build's.
    pub build_reused: bool,
    pub memory_bytes: usize,
    pub save_seconds: f64,
    pub load_seconds: f64,
    pub file_bytes: u64,
    /// This process's memory in huge pages once the index is loaded (most of it the index's).
    pub huge_page_bytes: u64,
    pub queries: usize,
    pub index_p50_ms: f64,
    pub index_p99_ms: f64,
    pub exact_queries: usize,
    pub exact_p50_ms: f64,
    pub exact_p99_ms: f64,
    /// The same queries by a scan the compiler vectorises ([`exact_scan_in_lanes`]): what a
    /// brute-force matcher written for speed would take. Context for the ratio, which the goal
    /// sets against the plain scan.
    pub lanes_p50_ms: f64,
    pub lanes_p99_ms: f64,
    pub recall_at_1: f64,
    /// Recall@1 of the queries of people in the gallery, and of strangers (a tenth).
    pub known_recall_at_1: f64,
    pub stranger_recall_at_1: f64,
    /// p99 of the queries of people in the gallery, and of strangers: whether the tail is the
    /// strangers' (whose search finds nothing close and so runs longest) or the machine's.
    pub known_p99_ms: f64,
    pub stranger_p99_ms: f64,
    pub p99_speedup: f64,
    /// Of the slowest hundredth of the queries, the share among the slowest hundredth again
    /// when the same queries run a second time (`tail::slowest_again`).
    pub slowest_again: f64,
    /// The machine's own tail, in windows as long as the median query (`tail::memory`).
    pub memory_tail: MemoryTail,
    /// The same queries at other search expansions and candidates (`--index-sweep`).
    pub sweep: Vec<SweepPoint>,
}

/// The index's queries at one search expansion.
#[derive(Debug, Serialize)]
pub struct SweepPoint {
    pub expansion_search: usize,
    /// Candidates asked of the index and re-ranked exactly.
    pub candidates: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub recall_at_1: f64,
    pub known_recall_at_1: f64,
    pub stranger_recall_at_1: f64,
    pub known_p99_ms: f64,
    pub stranger_p99_ms: f64,
}

/// Builds, saves, reloads and queries an index of `faces` vectors.
pub fn run(
    faces: usize,
    tuning: Tuning,
    queries: usize,
    exact_queries: usize,
    sweep: &[(usize, usize)],
    seed: u64,
    keep: Option<&Path>,
) -> BenchResult<IndexRun> {
    let mut generator = Faces::new(seed, DIMENSIONS);
    // One to three photos per person, two on average.
    let mut entries = Vec::with_capacity(faces);
    let mut centres = Vec::new();
    while entries.len() < faces {
        let centre = generator.identity();
        for _ in 0..(centres.len() % 3 + 1) {
            if entries.len() < faces {
                entries.push(Entry {
                    key: entries.len() as u64,
                    group: centres.len() as u64,
                    vector: generator.photo(&centre),
                });
            }
        }
        centres.push(centre);
    }
    let kept = Kept::new(keep, faces, seed, tuning);
    let reused = match &kept {
        Some(k) => FaceIndex::load(&k.file, "bench", DIMENSIONS, &k.tag, tuning)?,
        None => None,
    };
    let (index, build, build_reused) = match reused {
        Some((index, _)) => {
            let build = kept.as_ref().and_then(Kept::build).unwrap_or(Build {
                seconds: f64::NAN,
                threads: 0,
            });
            println!(
                "  {faces} faces: the index kept by an earlier run (built in {:.1} s on {} threads; NaN: not recorded), reused",
                build.seconds, build.threads
            );
            (index, build, true)
        }
        None => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let t = Instant::now();
            let index = FaceIndex::build(DIMENSIONS, tuning, &entries, threads)?;
            let build = Build {
                seconds: t.elapsed().as_secs_f64(),
                threads,
            };
            println!(
                "  {faces} faces: built in {:.1} s on {threads} threads, {} MB",
                build.seconds,
                index.memory_bytes() / 1_000_000
            );
            (index, build, false)
        }
    };

    let dir = std::env::temp_dir().join(format!("bench-face-index-{}", std::process::id()));
    let file = dir.join("faces.usearch");
    let header = face_index::Header {
        model: "bench".into(),
        dimensions: DIMENSIONS,
        database: "bench".into(),
        revision: 0,
        count: index.len(),
    };
    let t = Instant::now();
    index.save(&file, &header)?;
    let save_seconds = t.elapsed().as_secs_f64();
    let file_bytes = std::fs::metadata(&file)?.len();
    // Kept for later runs only when built now (a reused one is on disk already).
    if let (Some(k), false) = (&kept, build_reused) {
        index.save(
            &k.file,
            &face_index::Header {
                database: k.tag.clone(),
                ..header
            },
        )?;
        std::fs::write(k.build_file(), serde_json::to_vec(&build)?)?;
    }
    drop(index);
    let t = Instant::now();
    let (index, _) = FaceIndex::load(&file, "bench", DIMENSIONS, "bench", tuning)?
        .ok_or("the saved index was not reloaded")?;
    let load_seconds = t.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dir)?;
    let huge_page_bytes = huge_page_bytes();

    // Nine in ten queries are new photos of someone in the gallery, one a stranger.
    let probes: Vec<Vec<f32>> = (0..queries)
        .map(|i| match i % 10 {
            STRANGER => {
                let stranger = generator.identity();
                generator.photo(&stranger)
            }
            _ => {
                let who = (i * 7919) % centres.len();
                generator.photo(&centres[who])
            }
        })
        .collect();
    let flat: Vec<f32> = entries
        .iter()
        .flat_map(|e| e.vector.iter().copied())
        .collect();
    // Each side runs its queries back to back, as matching would: an exact scan between two
    // index queries would evict the index from the caches and charge that to the index.
    let mut exact_ms = Vec::new();
    let exact: Vec<u64> = probes
        .iter()
        .take(exact_queries)
        .map(|probe| {
            let t = Instant::now();
            let best = exact_scan(&flat, probe);
            exact_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            best
        })
        .collect();
    let (exact_p50_ms, exact_p99_ms) = percentiles(&mut exact_ms);
    let mut lanes_ms = Vec::new();
    for (probe, plain) in probes.iter().zip(&exact) {
        let t = Instant::now();
        let best = exact_scan_in_lanes(&flat, probe);
        lanes_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        // Sums in another order round differently: a near tie may break the other way.
        let (a, b) = (
            distance(&entries[best as usize].vector, probe),
            distance(&entries[*plain as usize].vector, probe),
        );
        if (a - b).abs() > 1e-5 * a.max(b) {
            return Err(
                format!("the two exact scans disagree on a query: {best} against {plain}").into(),
            );
        }
    }
    let (lanes_p50_ms, lanes_p99_ms) = percentiles(&mut lanes_ms);
    // Each query's time and best photo, at the index's search expansion as last set.
    let queried = |candidates: usize| -> BenchResult<(Vec<f64>, Vec<Option<u64>>)> {
        let mut ms = Vec::with_capacity(probes.len());
        let mut found = Vec::with_capacity(probes.len());
        for probe in &probes {
            let t = Instant::now();
            let best = index
                .nearest(probe, candidates)?
                .into_iter()
                .map(|n| (n.key, distance(&entries[n.key as usize].vector, probe)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(k, _)| k);
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            found.push(best);
        }
        Ok((ms, found))
    };
    let point = |(expansion, candidates): (usize, usize),
                 mut ms: Vec<f64>,
                 found: &[Option<u64>]| {
        let recall = |strangers: Option<bool>| {
            let checked: Vec<bool> = exact
                .iter()
                .enumerate()
                .filter(|(i, _)| strangers.is_none_or(|s| s == (i % 10 == STRANGER)))
                .map(|(i, e)| found[i] == Some(*e))
                .collect();
            checked.iter().filter(|ok| **ok).count() as f64 / checked.len().max(1) as f64
        };
        let p99_of = |strangers: bool| {
            let mut part: Vec<f64> = ms
                .iter()
                .enumerate()
                .filter(|(i, _)| strangers == (i % 10 == STRANGER))
                .map(|(_, t)| *t)
                .collect();
            percentiles(&mut part).1
        };
        let (known_p99_ms, stranger_p99_ms) = (p99_of(false), p99_of(true));
        let (p50_ms, p99_ms) = percentiles(&mut ms);
        let point = SweepPoint {
            expansion_search: expansion,
            candidates,
            p50_ms,
            p99_ms,
            recall_at_1: recall(None),
            known_recall_at_1: recall(Some(false)),
            stranger_recall_at_1: recall(Some(true)),
            known_p99_ms,
            stranger_p99_ms,
        };
        println!(
            "  expansion {expansion}, {candidates} candidates: p50 {:.3} ms p99 {:.3} ms (people in the gallery {:.3}, strangers {:.3}); recall@1 {:.4} (people in the gallery {:.4}, strangers {:.4})",
            point.p50_ms, point.p99_ms, point.known_p99_ms, point.stranger_p99_ms, point.recall_at_1, point.known_recall_at_1, point.stranger_recall_at_1
        );
        point
    };
    let sweep = sweep
        .iter()
        .map(|&(expansion, candidates)| {
            index.set_expansion_search(expansion);
            let (ms, found) = queried(candidates)?;
            Ok(point((expansion, candidates), ms, &found))
        })
        .collect::<BenchResult<Vec<_>>>()?;
    index.set_expansion_search(tuning.expansion_search);
    let (ms, found) = queried(CANDIDATES)?;
    let (again, _) = queried(CANDIDATES)?;
    let slowest_again = tail::slowest_again(&ms, &again);
    let chosen = point((tuning.expansion_search, CANDIDATES), ms, &found);
    let memory_tail = tail::memory(index.memory_bytes(), chosen.p50_ms, probes.len());
    println!(
        "  the slowest 1 % of queries, run again: {:.0} % of them among the slowest again; the machine's memory ({} MB, {:.0} ns a read) in windows of a median query: p50 {:.3} ms p99 {:.3} ms, p99/p50 {:.2} (the index's {:.2})",
        slowest_again * 100.0,
        memory_tail.bytes / 1_000_000,
        memory_tail.nanoseconds_per_read,
        memory_tail.p50_ms,
        memory_tail.p99_ms,
        memory_tail.p99_over_p50(),
        chosen.p99_ms / chosen.p50_ms
    );
    let run = IndexRun {
        faces,
        connectivity: tuning.connectivity,
        expansion_add: tuning.expansion_add,
        expansion_search: tuning.expansion_search,
        projected_dimensions: tuning.projected_dimensions,
        identities: centres.len(),
        threads: build.threads,
        build_seconds: build.seconds,
        build_reused,
        memory_bytes: index.memory_bytes(),
        save_seconds,
        load_seconds,
        file_bytes,
        huge_page_bytes,
        queries,
        index_p50_ms: chosen.p50_ms,
        index_p99_ms: chosen.p99_ms,
        exact_queries: exact_ms.len(),
        exact_p50_ms,
        exact_p99_ms,
        lanes_p50_ms,
        lanes_p99_ms,
        recall_at_1: chosen.recall_at_1,
        known_recall_at_1: chosen.known_recall_at_1,
        stranger_recall_at_1: chosen.stranger_recall_at_1,
        known_p99_ms: chosen.known_p99_ms,
        stranger_p99_ms: chosen.stranger_p99_ms,
        p99_speedup: exact_p99_ms / chosen.p99_ms,
        slowest_again,
        memory_tail,
        sweep,
    };
    println!(
        "  index p50 {:.3} ms p99 {:.3} ms; exact p50 {:.1} ms p99 {:.1} ms (vectorised: {:.1} / {:.1} ms); recall@1 {:.4}; load {:.1} s; {} MB in huge pages",
        run.index_p50_ms, run.index_p99_ms, run.exact_p50_ms, run.exact_p99_ms, run.lanes_p50_ms, run.lanes_p99_ms, run.recall_at_1, run.load_seconds,
        run.huge_page_bytes / 1_000_000
    );
    Ok(run)
}

/// How long building an index took, and on how many threads.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
struct Build {
    seconds: f64,
    threads: usize,
}

/// Where `--index-keep` keeps an index, and the tag saying which data and tuning it holds.
struct Kept {
    file: PathBuf,
    tag: String,
}

impl Kept {
    fn new(dir: Option<&Path>, faces: usize, seed: u64, tuning: Tuning) -> Option<Self> {
        let tag = format!(
            "{faces}-faces-seed-{seed}-connectivity-{}-add-{}-projection-{}",
            tuning.connectivity, tuning.expansion_add, tuning.projected_dimensions
        );
        dir.map(|dir| Self {
            file: dir.join(format!("{tag}.usearch")),
            tag,
        })
    }

    /// Beside the index: how long its build took, so that a run reusing it can report that.
    fn build_file(&self) -> PathBuf {
        self.file.with_extension("build.json")
    }

    fn build(&self) -> Option<Build> {
        serde_json::from_slice(&std::fs::read(self.build_file()).ok()?).ok()
    }
}

/// `AnonHugePages` of this process (Linux; 0 elsewhere).
fn huge_page_bytes() -> u64 {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The nearest stored vector by brute force: every vector, one after the other, each summed in
/// order (the compiler keeps a float sum's order, so it does not vectorise this).
fn exact_scan(flat: &[f32], probe: &[f32]) -> u64 {
    let mut best = (0, f32::INFINITY);
    for (i, v) in flat.chunks_exact(DIMENSIONS).enumerate() {
        let d: f32 = v.iter().zip(probe).map(|(a, b)| (a - b) * (a - b)).sum();
        if d < best.1 {
            best = (i as u64, d);
        }
    }
    best.0
}

/// [`exact_scan`] with each distance summed in 16 lanes at once, which the compiler turns into
/// vector instructions: the same answer (up to rounding), streamed at the memory's speed.
fn exact_scan_in_lanes(flat: &[f32], probe: &[f32]) -> u64 {
    const LANES: usize = 16;
    let mut best = (0, f32::INFINITY);
    for (i, v) in flat.chunks_exact(DIMENSIONS).enumerate() {
        let mut sums = [0.0_f32; LANES];
        for (a, b) in v.chunks_exact(LANES).zip(probe.chunks_exact(LANES)) {
            for lane in 0..LANES {
                let d = a[lane] - b[lane];
                sums[lane] += d * d;
            }
        }
        let d: f32 = sums.iter().sum();
        if d < best.1 {
            best = (i as u64, d);
        }
    }
    best.0
}
