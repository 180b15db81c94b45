//! The scheduler's bell and its health, shared by everything that can make a replica due now
//! ("sync now", creation, a divergence) and by `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Scheduler {
    bell: Notify,
    panics: AtomicU64,
}

impl Scheduler {
    /// Asks the scheduler to look for due replicas now.
    pub fn wake(&self) {
        self.bell.notify_one();
    }

    pub(super) async fn rung(&self) {
        self.bell.notified().await;
    }

    pub(super) fn count_panic(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    /// How often the scheduler, or a run it started, has panicked since start-up. Each time it
    /// was logged and the scheduler went on (restarted, if the scheduler itself had panicked).
    pub fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }
}
