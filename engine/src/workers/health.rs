//! What `/metrics` says of each worker: how often it (or a job it started) panicked, and how
//! long ago its last pass ended. A worker whose last pass is long past is stuck or dead, which
//! an alert on the age catches.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One worker's line.
#[derive(Debug)]
pub struct WorkerHealth {
    name: &'static str,
    panics: AtomicU64,
    passes: AtomicU64,
    last_pass: Mutex<Option<Instant>>,
    running: AtomicBool,
}

impl WorkerHealth {
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A panic of the worker, or of a job it runs (which it reports itself).
    pub fn count_panic(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    pub fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    pub(super) fn passed(&self) {
        self.passes.fetch_add(1, Ordering::Relaxed);
        *self.last_pass.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    pub(super) fn passes(&self) -> u64 {
        self.passes.load(Ordering::Relaxed)
    }

    /// How long ago the last pass ended; none before the first.
    pub fn since_last_pass(&self) -> Option<Duration> {
        self.last_pass
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|at| at.elapsed())
    }

    pub(super) fn started(&self) {
        self.running.store(true, Ordering::Relaxed);
    }

    pub(super) fn stopped(&self) {
        self.running.store(false, Ordering::Relaxed);
    }
}

/// Every worker's line, in the order they were started.
#[derive(Debug, Default)]
pub struct Health {
    workers: Mutex<Vec<Arc<WorkerHealth>>>,
}

impl Health {
    /// The line of the worker `name`, made at its first start.
    pub fn register(&self, name: &'static str) -> Arc<WorkerHealth> {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = workers.iter().find(|w| w.name == name) {
            return known.clone();
        }
        let line = Arc::new(WorkerHealth {
            name,
            panics: AtomicU64::new(0),
            passes: AtomicU64::new(0),
            last_pass: Mutex::new(None),
            running: AtomicBool::new(false),
        });
        workers.push(line.clone());
        line
    }

    pub fn workers(&self) -> Vec<Arc<WorkerHealth>> {
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The workers whose supervisor has not ended.
    pub(super) fn running(&self) -> Vec<&'static str> {
        self.workers()
            .iter()
            .filter(|w| w.running.load(Ordering::Relaxed))
            .map(|w| w.name)
            .collect()
    }
}
