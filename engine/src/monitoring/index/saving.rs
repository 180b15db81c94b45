//! Keeping the saved index nearly current, off the request path: the index's worker saves it
//! when something changed and enough time has passed, and at every stop, so that a start after
//! a crash loads an index at most about a minute behind and catches up only the rest from the
//! revision log. A save writes the whole index (hundreds of MB at a million faces), so it waits
//! at least a minute after the last one, and at least twenty times as long as that one took:
//! a big index on a slow disk is not rewritten over and over.

use super::MatchIndex;
use face_index::Header;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shortest time between two saves while the index changes.
const SAVE_EVERY: Duration = Duration::from_secs(60);
/// A save waits this many times as long as the last one took, if that is longer.
const SAVE_COST_FACTOR: u32 = 20;

/// When the index was last saved, and what changed since.
#[derive(Debug)]
pub(super) struct Saves {
    last: Instant,
    took: Duration,
    /// Dossiers changed in the index since the last save.
    unsaved: usize,
    /// The index was built anew since: the file holds none of it.
    rebuilt: bool,
}

impl Saves {
    pub(super) fn new() -> Self {
        Self {
            last: Instant::now(),
            took: Duration::ZERO,
            unsaved: 0,
            rebuilt: false,
        }
    }

    pub(super) fn changed(&mut self, dossiers: usize) {
        self.unsaved += dossiers;
    }

    pub(super) fn rebuilt(&mut self) {
        self.rebuilt = true;
    }

    /// Whether the file lags behind the index at all.
    fn behind(&self) -> bool {
        self.rebuilt || self.unsaved > 0
    }

    /// Whether the worker should save now: a new build at once, changes once their wait is
    /// over.
    fn due(&self) -> bool {
        let wait = SAVE_EVERY.max(self.took * SAVE_COST_FACTOR);
        self.rebuilt || (self.unsaved > 0 && self.last.elapsed() >= wait)
    }
}

/// What the saving wants done now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Save {
    /// Only if it is due (the worker's passes).
    WhenDue,
    /// Whenever the file is behind (a stop).
    IfBehind,
}

impl MatchIndex {
    pub(super) fn saves(&self) -> std::sync::MutexGuard<'_, Saves> {
        self.saves.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Saves the index where it is kept, if `when` says so; a failure is logged (the next
    /// start rebuilds). Returns whether it saved.
    pub async fn save(self: &Arc<Self>, when: Save) -> bool {
        let Some(file) = self.file.get().cloned() else {
            return false;
        };
        let wanted = match when {
            Save::WhenDue => self.saves().due(),
            Save::IfBehind => self.saves().behind(),
        };
        if !wanted {
            return false;
        }
        // What this save covers; changes made while it writes count for the next one.
        let covered = std::mem::replace(&mut self.saves().unsaved, 0);
        self.saves().rebuilt = false;
        let started = Instant::now();
        let index = self.clone();
        let saved = tokio::task::spawn_blocking(move || {
            let current = index.read();
            let Some(current) = current.as_ref() else {
                return Ok(0);
            };
            let header = Header {
                model: index.model.name.clone(),
                dimensions: current.faces.dimensions(),
                database: current.database.clone(),
                revision: current.revision,
                count: current.faces.len(),
            };
            current.faces.save(&file, &header).map(|()| header.count)
        })
        .await;
        let mut saves = self.saves();
        match saved {
            Ok(Ok(faces)) => {
                saves.last = Instant::now();
                saves.took = started.elapsed();
                tracing::info!(
                    faces,
                    seconds = saves.took.as_secs_f32(),
                    "face index saved"
                );
                true
            }
            failed => {
                match failed {
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot save the face index"),
                    _ => tracing::warn!("saving the face index panicked"),
                }
                // Still behind: the next pass tries again after the usual wait.
                saves.unsaved += covered.max(1);
                saves.last = Instant::now();
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_is_due_after_changes_and_their_wait_and_at_once_after_a_build() {
        let mut saves = Saves::new();
        assert!(!saves.behind() && !saves.due());
        saves.changed(3);
        assert!(saves.behind() && !saves.due(), "changes wait a minute");
        saves.last -= SAVE_EVERY;
        assert!(saves.due());
        saves.took = Duration::from_secs(10);
        assert!(!saves.due(), "a slow save waits twenty times as long");
        saves.rebuilt();
        assert!(saves.due(), "a new build is saved at once");
    }
}
