//! Closed-loop load: a fixed number of workers each sending its next request as soon as the
//! previous one is answered, recording every latency.

use crate::cluster::BenchResult;
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub requests: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub per_second: f64,
}

/// Until what a load runs.
#[derive(Clone)]
pub enum Until {
    /// A total number of requests over all workers.
    Requests(usize),
    /// Until the flag is raised (the measured work is done).
    Flag(Arc<AtomicBool>),
}

pub async fn run<F, Fut>(workers: usize, until: Until, request: F) -> BenchResult<Latency>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = BenchResult<()>> + Send + 'static,
{
    run_paced(workers, until, None, request).await
}

/// Like [`run`], but each worker starts a request at most every `pace`: a user's browsing
/// rather than a saturating load, for latency measured while other work runs.
pub async fn run_paced<F, Fut>(
    workers: usize,
    until: Until,
    pace: Option<Duration>,
    request: F,
) -> BenchResult<Latency>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = BenchResult<()>> + Send + 'static,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..workers {
        let request = Arc::clone(&request);
        let until = until.clone();
        let counter = Arc::clone(&counter);
        handles.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                match &until {
                    Until::Requests(n) if i >= *n => break,
                    Until::Flag(done) if done.load(Ordering::Relaxed) => break,
                    _ => {}
                }
                let t = Instant::now();
                let outcome = request(i).await;
                let took = t.elapsed();
                if let Some(pace) = pace {
                    tokio::time::sleep(pace.saturating_sub(took)).await;
                }
                match outcome {
                    Ok(()) => samples.push(took),
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("  request failed: {e}");
                        }
                        errors += 1;
                        // Do not spin on a refusing server.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (samples, errors)
        }));
    }
    let mut samples = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (s, e) = h.await?;
        samples.extend(s);
        errors += e;
    }
    let elapsed = started.elapsed();
    Ok(summarize(samples, errors, elapsed))
}

pub fn summarize(mut samples: Vec<Duration>, errors: usize, elapsed: Duration) -> Latency {
    samples.sort_unstable();
    let pick = |q: f64| -> f64 {
        if samples.is_empty() {
            return f64::NAN;
        }
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1000.0
    };
    Latency {
        requests: samples.len(),
        errors,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        max_ms: pick(1.0),
        per_second: samples.len() as f64 / elapsed.as_secs_f64(),
    }
}
