//! A replica's run state, and its run's record in the history: each one value, loaded and
//! saved in one place (`stored`) and nowhere else. Everything that changes them is a method
//! of theirs, pure (no database, no clock but the one given), so that `plan` and `run` say what
//! happens and this module only how it is kept.
//!
//! The state is the replica's row in `replicas` but its identity (what the Replication page
//! lists and an Administrator creates): the cursor and the Leader it belongs to, the run in
//! progress (so that a killed run resumes), why the next run is a full resync, a hold waiting
//! for an Administrator, the counts the page shows, the last success and error, the next run.

mod stored;

use super::{HoldKind, ReplicaState, RunOutcomeKind};
use crate::backoff::Backoff;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How long a replica waits after its `n`-th failure in a row: 30 s, doubling, at most 1 h.
pub const RUN_BACKOFF: Backoff =
    Backoff::doubling(Duration::from_secs(30), Duration::from_secs(3600));

/// A replica as a run reads and advances it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunState {
    pub id: i64,
    pub watch_list_id: i64,
    pub remote_url: String,
    pub remote_list_id: i64,
    pub state: ReplicaState,
    /// The Leader revision the replica has completely applied (0: nothing yet), and the epoch
    /// of the Leader's history it belongs to.
    pub cursor: i64,
    pub leader_epoch: Option<String>,
    /// The Leader installation this replica follows (known once a Leader answered).
    pub leader_installation: Option<String>,
    /// The run in progress, which a new run resumes.
    pub progress: Option<Progress>,
    /// Why the next run is a full resync, when something asked for one.
    pub resync_reason: Option<String>,
    /// Removals an Administrator accepted for the next run.
    pub confirmed_removals: Option<i64>,
    /// When the replica last matched the Leader's digest.
    pub verified_at: Option<DateTime<Utc>>,
    /// Failures in a row.
    pub failures: i32,
    pub hold: Option<HeldRun>,
    pub items_done: i64,
    pub items_total: Option<i64>,
    pub photos_done: i64,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
}

/// How far the run in progress got.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The history record of the run that began it (a resumed run keeps it).
    pub run: i64,
    /// A clean full resync: every member sent, and what was not seen removed at the end.
    pub full: bool,
    /// Whether the full resync removes, at its end, what it did not see (it does unless the
    /// list was empty when it began).
    pub sweep: bool,
    /// The epoch of the Leader's history the run's pages belong to.
    pub epoch: String,
    /// The watermark the run syncs to, once its first page said it.
    pub until: Option<i64>,
    /// The last Leader dossier id applied.
    pub after: i64,
}

/// A run stopped before changing anything, for an Administrator to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldRun {
    pub kind: HoldKind,
    pub message: String,
    /// The other installation that answered at the Leader's URL.
    pub installation: Option<String>,
    /// How many dossiers the held run would have removed.
    pub removals: Option<i64>,
}

impl RunState {
    /// A run begins: it resumes the run in progress, or starts `progress` anew (a full
    /// resync for `why`, if it is one), and the replica is running. A Leader met for the first
    /// time is adopted.
    pub fn begin(
        &mut self,
        progress: Progress,
        resumed: bool,
        why: Option<String>,
        adopt: Option<String>,
    ) {
        if let Some(installation) = adopt {
            self.leader_installation = Some(installation);
        }
        if !resumed {
            self.resync_reason = why;
            self.items_done = 0;
            self.items_total = None;
            self.photos_done = 0;
        }
        self.progress = Some(progress);
        self.state = ReplicaState::Running;
    }

    /// The Leader can no longer serve changes since the cursor: the run becomes a clean full
    /// resync, for `reason`.
    pub fn resync_from_scratch(&mut self, reason: String) {
        if let Some(progress) = &mut self.progress {
            progress.full = true;
            progress.sweep = true;
            progress.until = None;
            progress.after = 0;
        }
        self.resync_reason = Some(reason);
    }

    /// The first page of a new run said where the run ends and how much it has.
    pub fn first_page(&mut self, until: i64, total: Option<i64>) {
        if let Some(progress) = &mut self.progress {
            progress.until = Some(until);
        }
        self.items_total = total;
    }

    /// A page was applied: `items` dossiers written or removed, `photos` images fetched; the
    /// run goes on after the Leader dossier `after`.
    pub fn applied(&mut self, after: i64, items: i64, photos: i64) {
        if let Some(progress) = &mut self.progress {
            progress.after = after;
        }
        self.items_done += items;
        self.photos_done += photos;
    }

    /// The Leader's history changed under the run (a restore): its progress is dropped, and
    /// the next run, seeing the new epoch, resyncs from scratch.
    pub fn drop_progress(&mut self) {
        self.progress = None;
    }

    /// The run completed: the cursor moves to its watermark, in its epoch.
    pub fn completed(&mut self, now: DateTime<Utc>, next_run: Option<DateTime<Utc>>) -> i64 {
        let progress = self.progress.take();
        if let Some(progress) = &progress {
            self.cursor = progress.until.unwrap_or(self.cursor);
            self.leader_epoch = Some(progress.epoch.clone());
        }
        self.resync_reason = None;
        self.confirmed_removals = None;
        self.state = ReplicaState::Idle;
        self.last_success_at = Some(now);
        self.last_error = None;
        self.failures = 0;
        self.next_run_at = next_run;
        self.cursor
    }

    /// The replica matched the Leader's digest.
    pub fn verified(&mut self, now: DateTime<Utc>) {
        self.verified_at = Some(now);
    }

    /// The replica's digest differs from the Leader's: a full resync follows at once.
    pub fn diverged(&mut self, message: &str, now: DateTime<Utc>) {
        self.cursor = 0;
        self.resync_reason = Some(message.to_string());
        self.last_error = Some(message.to_string());
        self.last_error_at = Some(now);
        self.next_run_at = Some(now);
    }

    /// The run failed: it is tried again after a backoff that grows with the failures in a
    /// row; its progress is kept for the resume.
    pub fn failed(&mut self, message: &str, now: DateTime<Utc>) {
        self.state = ReplicaState::Failed;
        self.last_error = Some(message.to_string());
        self.last_error_at = Some(now);
        self.failures += 1;
        let wait = RUN_BACKOFF.after(self.failures.max(0) as u32);
        self.next_run_at = Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
    }

    /// The installation stopped during the run: it resumes where it stopped at the next start.
    pub fn stopped(&mut self, now: DateTime<Utc>) {
        self.state = ReplicaState::Idle;
        self.next_run_at = Some(now);
    }

    /// The run stopped before changing anything, for an Administrator: the replica does not
    /// run on its schedule until then. Why it was to be a full resync stays for the run that
    /// goes ahead.
    pub fn hold(&mut self, held: HeldRun) {
        self.state = ReplicaState::Held;
        self.hold = Some(held);
        self.next_run_at = None;
        self.progress = None;
    }

    /// An Administrator let the held run go ahead, at `now`. Another installation at the
    /// Leader's URL becomes the Leader, resynced from scratch; a mass removal may happen once.
    pub fn confirm_hold(&mut self, now: DateTime<Utc>) {
        if let Some(held) = self.hold.take() {
            match held.kind {
                HoldKind::LeaderChanged => {
                    let installation = held.installation.unwrap_or_default();
                    self.resync_reason = Some(format!(
                        "an Administrator accepted installation {installation} as the Leader at {}",
                        self.remote_url
                    ));
                    self.leader_installation = Some(installation);
                    self.leader_epoch = None;
                    self.cursor = 0;
                    self.progress = None;
                }
                HoldKind::MassRemoval => self.confirmed_removals = held.removals,
            }
        }
        self.state = ReplicaState::Idle;
        self.next_run_at = Some(now);
    }

    /// An Administrator kept the replica as it is: the next scheduled run checks again.
    pub fn reject_hold(&mut self, next_run: Option<DateTime<Utc>>) {
        self.hold = None;
        self.state = ReplicaState::Idle;
        self.next_run_at = next_run;
    }
}

/// What the history says of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: i64,
    pub full_resync: bool,
    pub cursor_to: Option<i64>,
    pub outcome: RunOutcomeKind,
    pub dossiers: i64,
    pub removals: i64,
    pub photos: i64,
    pub restored: i64,
    /// Why the run is what it is: the cause of a full resync, or of a hold, and what was
    /// decided.
    pub reason: Option<String>,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        let backoff = |n: i32| RUN_BACKOFF.after(n.max(0) as u32).as_secs();
        let seconds: Vec<u64> = (0..=10).map(backoff).collect();
        assert_eq!(
            seconds,
            [30, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
        );
    }
}
