//! P16: the event archive searched by face (`face_index::archive`, as the server holds it)
//! against an exact scan of the same vectors as floats, in this process. Face-like data
//! (`face_index::synthetic`): every person is seen a few times over the month, at random
//! times; a query is a new photo of one of them, searched over one day and over every day.
//! Agreement is the share of the exact scan's appearances (within the threshold) the archive
//! search returns: what quantisation costs.

use super::stats::percentiles;
use crate::cluster::BenchResult;
use crate::Args;
use face_index::archive::{code, Archive, ArchivedFace, Scope};
use face_index::synthetic::Faces;
use serde::Serialize;
use std::collections::HashSet;
use std::time::Instant;

const DIMENSIONS: usize = 128;
const DAY: i64 = 86_400;
/// 2026-11-01T00:00:00Z: the month's first day.
const START: i64 = 1_793_491_200;
/// Appearances of each person over the month.
const APPEARANCES: usize = 5;
/// What the server asks for by default: 50 appearances at the default threshold (0.75).
const LIMIT: usize = 50;

#[derive(Debug, Serialize)]
pub struct ArchiveRun {
    pub events: usize,
    pub days: i64,
    pub threads: usize,
    pub memory_bytes: usize,
    pub queries: usize,
    pub day_p50_ms: f64,
    pub day_p99_ms: f64,
    pub month_p50_ms: f64,
    pub month_p99_ms: f64,
    pub exact_queries: usize,
    pub exact_day_p50_ms: f64,
    pub exact_day_p99_ms: f64,
    pub exact_month_p50_ms: f64,
    pub exact_month_p99_ms: f64,
    /// Share of the exact scan's appearances the archive search found too (month queries):
    /// what quantisation moves across the threshold, strangers at its edge mostly.
    pub agreement: f64,
    /// Of the queried person's own appearances the exact scan finds, the share the archive
    /// search finds: what an investigator asks for.
    pub own_recall: f64,
    /// The person's own appearances the exact scan finds, of the 5 there are (the model's
    /// limit, not the search's).
    pub own_found_by_exact: f64,
    /// Appearances per month query, on average (the exact scan's).
    pub mean_appearances: f64,
}

/// The floats of every event for the exact scan, a day after another (the exact scan of one
/// day reads only that day's, in order, as the archive does).
#[derive(Default, Clone)]
struct FloatDay {
    keys: Vec<u64>,
    vectors: Vec<f32>,
    times: Vec<i64>,
}

/// P16: the archive search at `--archive-events`, against an exact scan.
pub(super) async fn p16(args: &Args) -> BenchResult<ArchiveRun> {
    super::step(&format!(
        "P16: the event archive searched by face at {} events over {} days",
        args.archive_events, args.archive_days
    ));
    let (events, days, queries, exact, seed) = (
        args.archive_events,
        args.archive_days,
        args.archive_queries,
        args.archive_exact_queries,
        args.seed,
    );
    tokio::task::spawn_blocking(move || run(events, days, queries, exact, seed)).await?
}

/// P16 alone.
pub async fn archive_only(args: &Args) -> BenchResult<()> {
    let p16 = p16(args).await?;
    println!("{}", serde_json::to_string_pretty(&p16)?);
    Ok(())
}

pub fn run(
    events: usize,
    days: i64,
    queries: usize,
    exact_queries: usize,
    seed: u64,
) -> BenchResult<ArchiveRun> {
    let mut faces = Faces::new(seed, DIMENSIONS);
    let mut archive = Archive::new(DIMENSIONS);
    let mut floats = vec![FloatDay::default(); days as usize];
    let people = events.div_ceil(APPEARANCES);
    let mut centres = Vec::with_capacity(people.min(100_000));
    let mut times = seed ^ 0x5eed;
    let mut key = 0_u64;
    for person in 0..people {
        let centre = faces.identity();
        for _ in 0..APPEARANCES {
            if key as usize == events {
                break;
            }
            let photo = faces.photo(&centre);
            let at = START + (splitmix(&mut times) % (days as u64 * DAY as u64)) as i64;
            archive.put(ArchivedFace {
                key,
                at,
                tag: (key % 16) as u32,
                code: code(&photo),
            })?;
            let day = &mut floats[((at - START) / DAY) as usize];
            day.keys.push(key);
            day.vectors.extend_from_slice(&photo);
            day.times.push(at);
            key += 1;
        }
        // Queries are of the first people: enough of them, and their appearances are spread
        // over the whole month like everyone's.
        if person < 100_000 {
            centres.push(centre);
        }
    }
    let threshold = domain::similarity::distance_for(0.75);
    let month = Scope {
        from: START,
        until: START + days * DAY,
        tags: None,
    };
    let one_day = |q: usize| {
        let day = START + (q as i64 % days) * DAY;
        Scope {
            from: day,
            until: day + DAY,
            tags: None,
        }
    };
    let probe = |q: usize, faces: &mut Faces| faces.photo(&centres[q % centres.len()]);
    let mut probes = Faces::new(seed ^ 0xfeed, DIMENSIONS);
    let (mut day_ms, mut month_ms) = (Vec::new(), Vec::new());
    for q in 0..queries {
        let query = probe(q, &mut probes);
        let t = Instant::now();
        archive.search(&query, &one_day(q), threshold, LIMIT)?;
        day_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        archive.search(&query, &month, threshold, LIMIT)?;
        month_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut probes = Faces::new(seed ^ 0xfeed, DIMENSIONS);
    let (mut exact_day_ms, mut exact_month_ms) = (Vec::new(), Vec::new());
    let (mut found, mut wanted) = (0_usize, 0_usize);
    let (mut own_found, mut own_wanted) = (0_usize, 0_usize);
    for q in 0..exact_queries {
        let query = probe(q, &mut probes);
        let t = Instant::now();
        exact(&floats, &query, &one_day(q), threshold);
        exact_day_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let truth = exact(&floats, &query, &month, threshold);
        exact_month_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let got: HashSet<u64> = archive
            .search(&query, &month, threshold, LIMIT)?
            .neighbours
            .iter()
            .map(|n| n.key)
            .collect();
        wanted += truth.len();
        found += truth.iter().filter(|k| got.contains(k)).count();
        // The person's own appearances: keys person × 5 … person × 5 + 4.
        let person = (q % centres.len()) as u64;
        let own = |k: &&u64| **k / APPEARANCES as u64 == person;
        own_wanted += truth.iter().filter(own).count();
        own_found += truth.iter().filter(own).filter(|k| got.contains(k)).count();
    }
    let (day_p50_ms, day_p99_ms) = percentiles(&mut day_ms);
    let (month_p50_ms, month_p99_ms) = percentiles(&mut month_ms);
    let (exact_day_p50_ms, exact_day_p99_ms) = percentiles(&mut exact_day_ms);
    let (exact_month_p50_ms, exact_month_p99_ms) = percentiles(&mut exact_month_ms);
    Ok(ArchiveRun {
        events,
        days,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes: events * (DIMENSIONS + 8 + 8 + 4 + 16),
        queries,
        day_p50_ms,
        day_p99_ms,
        month_p50_ms,
        month_p99_ms,
        exact_queries,
        exact_day_p50_ms,
        exact_day_p99_ms,
        exact_month_p50_ms,
        exact_month_p99_ms,
        agreement: if wanted == 0 {
            1.0
        } else {
            found as f64 / wanted as f64
        },
        mean_appearances: wanted as f64 / exact_queries.max(1) as f64,
        own_recall: if own_wanted == 0 {
            1.0
        } else {
            own_found as f64 / own_wanted as f64
        },
        own_found_by_exact: own_wanted as f64 / exact_queries.max(1) as f64,
    })
}

/// The plain scan: every float vector in the range, its distance, the closest within the
/// threshold (at most [`LIMIT`]).
fn exact(floats: &[FloatDay], query: &[f32], scope: &Scope, threshold: f32) -> Vec<u64> {
    let first = ((scope.from - START) / DAY) as usize;
    let last = (((scope.until - 1 - START) / DAY) as usize).min(floats.len() - 1);
    let mut close: Vec<(f32, u64)> = floats[first..=last]
        .iter()
        .flat_map(|day| {
            day.vectors
                .chunks_exact(DIMENSIONS)
                .zip(&day.times)
                .zip(&day.keys)
        })
        .filter(|((_, at), _)| (scope.from..scope.until).contains(*at))
        .map(|((v, _), key)| (domain::similarity::distance(v, query), *key))
        .filter(|(d, _)| *d <= threshold)
        .collect();
    close.sort_by(|a, b| a.0.total_cmp(&b.0));
    close.truncate(LIMIT);
    close.into_iter().map(|(_, k)| k).collect()
}

/// A seeded random number (splitmix64), for the capture times.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
