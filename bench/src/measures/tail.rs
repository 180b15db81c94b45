//! Where P8's tail comes from: the query, or the machine. A search at a million faces spends
//! most of its time waiting for memory, so its p99 can be no steadier than the memory it waits
//! on. Two figures tell them apart in the same run:
//! - the machine's own tail: dependent reads at random over as much memory as the index holds,
//!   timed in windows as long as a median query, with nothing of the index in them;
//! - whether a slow query is slow again: the same queries run a second time, and the share of
//!   the slowest hundredth that is among the slowest hundredth again.

use serde::Serialize;
use std::time::Instant;

const LINE: usize = 64;
const WORDS_PER_LINE: usize = LINE / std::mem::size_of::<u64>();
const HUGE_PAGE: usize = 2 << 20;

#[derive(Debug, Serialize)]
pub struct MemoryTail {
    pub bytes: usize,
    /// Dependent reads per window: as many as take the index's median query time.
    pub reads_per_window: usize,
    pub windows: usize,
    pub nanoseconds_per_read: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl MemoryTail {
    pub fn p99_over_p50(&self) -> f64 {
        self.p99_ms / self.p50_ms
    }
}

/// Reads one 64-byte line after another over `bytes` of memory, each read's address given by
/// the one before (so no two overlap and no prefetcher can guess them), in `windows` windows
/// of about `window_ms` each.
pub fn memory(bytes: usize, window_ms: f64, windows: usize) -> MemoryTail {
    let lines = (bytes / LINE).next_power_of_two();
    let mut memory: Vec<u64> = Vec::with_capacity(lines * WORDS_PER_LINE + HUGE_PAGE / 8);
    ask_for_huge_pages(&mut memory);
    // A full-period linear congruential step over the lines (a ≡ 1 mod 4, c odd, modulus a
    // power of two): one cycle through every line, its strides irregular.
    let next = |line: usize| {
        (line as u64)
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407) as usize
            & (lines - 1)
    };
    memory.resize(lines * WORDS_PER_LINE, 0);
    for line in 0..lines {
        memory[line * WORDS_PER_LINE] = (next(line) * WORDS_PER_LINE) as u64;
    }
    let mut at = 0usize;
    let mut chase = |reads: usize| {
        for _ in 0..reads {
            at = memory[at] as usize;
        }
        std::hint::black_box(at);
    };
    chase(lines.min(1 << 20));
    let calibration = 200_000;
    let t = Instant::now();
    chase(calibration);
    let nanoseconds_per_read = t.elapsed().as_secs_f64() * 1e9 / calibration as f64;
    let reads_per_window = ((window_ms * 1e6 / nanoseconds_per_read) as usize).max(1);
    let mut ms: Vec<f64> = (0..windows)
        .map(|_| {
            let t = Instant::now();
            chase(reads_per_window);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let (p50_ms, p99_ms) = super::stats::percentiles(&mut ms);
    MemoryTail {
        bytes: lines * LINE,
        reads_per_window,
        windows,
        nanoseconds_per_read,
        p50_ms,
        p99_ms,
    }
}

/// Huge pages, as the index has them (`face_index` asks for its own), so that the reads here
/// miss the caches as the index's do and not the TLB as well.
#[cfg(target_os = "linux")]
fn ask_for_huge_pages(memory: &mut Vec<u64>) {
    let start = (memory.as_mut_ptr() as usize).next_multiple_of(HUGE_PAGE);
    let end = (memory.as_mut_ptr() as usize + memory.capacity() * std::mem::size_of::<u64>())
        / HUGE_PAGE
        * HUGE_PAGE;
    if end > start {
        // SAFETY: the range lies inside the vector's allocation, which nothing has written to
        // yet; the advice changes only which pages will back it.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn ask_for_huge_pages(_memory: &mut Vec<u64>) {}

/// Of the slowest hundredth of the queries in `first`, the share that is among the slowest
/// hundredth of the same queries run again (`second`). Near 1: the slow queries are the hard
/// ones; near 0.01: which query is slow is chance, the machine's.
pub fn slowest_again(first: &[f64], second: &[f64]) -> f64 {
    let slowest = |ms: &[f64]| {
        let mut order: Vec<usize> = (0..ms.len()).collect();
        order.sort_by(|a, b| ms[*b].total_cmp(&ms[*a]));
        order.truncate((ms.len() / 100).max(1));
        order
    };
    let (a, b) = (slowest(first), slowest(second));
    a.iter().filter(|i| b.contains(i)).count() as f64 / a.len() as f64
}
