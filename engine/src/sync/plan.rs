//! The decisions of a replica's run, as pure steps over the replica's state and what the
//! Leader answered: plan here, act in `run`. Nothing here touches the database or the network,
//! so every branch the README describes is tested in memory (`plan/tests.rs`): the first sync,
//! an incremental run, a resumed one, a cursor the Leader can no longer serve, a Leader whose
//! history went back (its epoch changed, or its counter is behind the cursor), another Leader
//! at the URL, a mass removal held, local deletions to restore, a divergence, and a failure
//! with its backoff (`RunState::failed`).

use super::error::SyncError;
use super::state::{HeldRun, Progress, RunState};
use super::{ChangePage, HoldKind, LeaderInfo, ListDigest, GUARDED_REPLICA_SIZE};
use chrono::{DateTime, Utc};

/// Longest time between two verifications of a replica against the Leader's digest.
pub const VERIFY_EVERY_HOURS: i64 = 24;

/// What a run knows when it starts, besides the replica's state.
#[derive(Debug, Clone)]
pub struct Meeting<'a> {
    /// What the Leader said about itself.
    pub leader: &'a LeaderInfo,
    /// This installation's id: a Leader that is this installation is refused.
    pub own_installation: &'a str,
    /// This installation's face model: a Leader of another one is refused.
    pub face_model: &'a str,
    /// The run's record in the history (a new run's progress is keyed by it).
    pub record: i64,
    /// Whether the local list has members now (a full resync sweeps what it did not see only
    /// if there is something to sweep).
    pub list_has_members: bool,
}

/// How a run starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// Another installation answers at the Leader's URL: the run is held, nothing changed.
    Hold(HeldRun),
    Go(Begin),
}

/// A run that goes ahead.
#[derive(Debug, Clone, PartialEq)]
pub struct Begin {
    /// The Leader's id, adopted by a replica made before Leaders had ids.
    pub adopt: Option<String>,
    pub progress: Progress,
    /// Whether it resumes the run in progress (else it starts anew).
    pub resumed: bool,
    /// A new run's reason to be a full resync, if it is one.
    pub why: Option<String>,
    /// What the run's history says of it.
    pub reason: Option<String>,
}

impl Begin {
    /// The replica's state as this run begins it.
    pub fn apply(&self, state: &mut RunState) {
        state.begin(
            self.progress.clone(),
            self.resumed,
            self.why.clone(),
            self.adopt.clone(),
        );
    }
}

/// Decides how a run starts: refused (another model, this installation itself), held
/// (another Leader at the URL), resumed (its progress belongs to the Leader's current epoch),
/// or begun anew, as a full resync when the cursor means nothing any more.
pub fn start(state: &RunState, meeting: &Meeting<'_>) -> Result<Start, SyncError> {
    let leader = meeting.leader;
    check_model(leader, meeting.face_model)?;
    check_not_self(leader, meeting.own_installation)?;
    let adopt = match &state.leader_installation {
        Some(known) if *known == leader.installation_id => None,
        None => Some(leader.installation_id.clone()),
        Some(known) => {
            let message = format!(
                "another installation answers at {url}: {new}, while this replica follows {known}. \
                 Nothing was changed here. If the Leader was re-installed or its database re-created \
                 on purpose, confirm to resync from it; otherwise reject and check the address.",
                url = state.remote_url,
                new = leader.installation_id,
            );
            return Ok(Start::Hold(HeldRun {
                kind: HoldKind::LeaderChanged,
                message,
                installation: Some(leader.installation_id.clone()),
                removals: None,
            }));
        }
    };
    let resumable = state.progress.as_ref().filter(|p| p.epoch == leader.epoch);
    if let Some(progress) = resumable {
        let reason = Some(match &state.resync_reason {
            Some(why) => format!("{why}; resumes an interrupted run"),
            None => "resumes an interrupted run".into(),
        });
        return Ok(Start::Go(Begin {
            adopt,
            progress: progress.clone(),
            resumed: true,
            why: None,
            reason,
        }));
    }
    let why = full_resync_reason(state, leader);
    Ok(Start::Go(Begin {
        adopt,
        progress: Progress {
            run: meeting.record,
            full: why.is_some(),
            sweep: meeting.list_has_members,
            epoch: leader.epoch.clone(),
            until: None,
            after: 0,
        },
        resumed: false,
        reason: why.clone(),
        why,
    }))
}

/// Refuses a Leader of another face model: their vectors are not comparable with ours.
pub fn check_model(info: &LeaderInfo, local: &str) -> Result<(), SyncError> {
    if info.face_model != local {
        return Err(SyncError::ModelMismatch {
            leader: info.face_model.clone(),
            local: local.to_string(),
        });
    }
    Ok(())
}

/// Refuses a Leader that is this installation (its own URL, or another name for it).
pub fn check_not_self(info: &LeaderInfo, own: &str) -> Result<(), SyncError> {
    if info.installation_id == own {
        return Err(SyncError::Local(crate::Error::invalid(
            "remote_url",
            "this URL answers as this installation itself: a Subscriber cannot replicate its own lists",
        )));
    }
    Ok(())
}

/// Why a new run must be a clean full resync, if it must: a resync asked for (a divergence, a
/// new Leader confirmed), nothing synced yet, or a cursor that no longer means anything in the
/// Leader's history.
pub fn full_resync_reason(state: &RunState, leader: &LeaderInfo) -> Option<String> {
    if let Some(reason) = &state.resync_reason {
        return Some(reason.clone());
    }
    if state.cursor == 0 {
        return Some("first sync".into());
    }
    if let Some(epoch) = state.leader_epoch.as_ref().filter(|e| **e != leader.epoch) {
        return Some(format!(
            "the Leader's history went back (restored from a backup?): its epoch is now {}, this replica's cursor {} belongs to epoch {epoch}",
            leader.epoch, state.cursor,
        ));
    }
    if state.cursor > leader.revision {
        return Some(format!(
            "this replica's cursor {} is ahead of the Leader's last revision {}: the Leader's history went back",
            state.cursor, leader.revision
        ));
    }
    None
}

/// What the mass-removal guard knows so far: it asks for the replica's size, then the
/// Leader's members, only when the cheaper facts cannot decide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardFacts {
    /// Dossiers in the local list.
    pub size: Option<i64>,
    /// Of them, how many the Leader's list does not have: exactly what the run removes.
    pub removals: Option<i64>,
}

/// The guard's answer on the first page of a new run, before anything is applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    Go,
    /// Count the local list's dossiers, then ask again.
    CountReplica,
    /// Ask the Leader for its list's members and count what the replica would lose, then ask
    /// again.
    CountRemovals,
    Hold(HeldRun),
}

/// The mass-removal guard: a run that would remove more than `ratio` of a replica of more
/// than [`GUARDED_REPLICA_SIZE`] dossiers is held, unless an Administrator confirmed as many.
pub fn guard(
    progress: &Progress,
    first: &ChangePage,
    ratio: f64,
    confirmed: Option<i64>,
    facts: GuardFacts,
) -> Guard {
    // A hold needs more than `ratio` of more than GUARDED_REPLICA_SIZE dossiers to go: an
    // incremental run removing fewer cannot be held, and need not count the replica (its cost
    // follows the changes, not the size of the list).
    if !progress.full
        && first
            .removals_total
            .is_some_and(|r| r as f64 <= ratio * GUARDED_REPLICA_SIZE as f64)
    {
        return Guard::Go;
    }
    let Some(size) = facts.size else {
        return Guard::CountReplica;
    };
    if size <= GUARDED_REPLICA_SIZE {
        return Guard::Go;
    }
    let allowed = (ratio * size as f64).floor() as i64;
    // An incremental run knows at most how many removals it carries; only when that bound is
    // over the limit is the Leader asked for its whole list, to count exactly.
    let bound = if progress.full {
        size
    } else {
        first.removals_total.unwrap_or(size)
    };
    if bound <= allowed {
        return Guard::Go;
    }
    let Some(removals) = facts.removals else {
        return Guard::CountRemovals;
    };
    if removals <= allowed || confirmed.is_some_and(|c| removals <= c) {
        return Guard::Go;
    }
    Guard::Hold(HeldRun {
        kind: HoldKind::MassRemoval,
        message: format!(
            "this run would remove {removals} of the {size} dossiers of the replica ({percent:.0} %, more than SYNC_MAX_DELETE_RATIO = {limit:.0} %). \
             Nothing was changed here. Confirm if the Leader's list really lost them; otherwise reject, and the replica stays as it is.",
            percent = removals as f64 * 100.0 / size as f64,
            limit = ratio * 100.0,
        ),
        installation: None,
        removals: Some(removals),
    })
}

/// What to do with a page of the Leader's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Apply it; the run goes on after the Leader dossier `after`.
    Apply { after: i64 },
    /// The page belongs to another epoch than the run: the Leader's history changed under the
    /// run (it was restored from a backup meanwhile). The run's progress is dropped.
    HistoryChanged,
}

pub fn page(progress: &Progress, page: &ChangePage) -> Page {
    if page.epoch != progress.epoch {
        return Page::HistoryChanged;
    }
    let after = page.next_after.unwrap_or_else(|| {
        page.upserts
            .iter()
            .map(|d| d.id)
            .chain(page.removals.iter().copied())
            .max()
            .unwrap_or(progress.after)
    });
    Page::Apply { after }
}

/// The Leader can no longer serve changes since the cursor (its tombstones are pruned): an
/// incremental run becomes a clean full resync, and says why. A full resync that hears it has
/// nothing to become: the Leader misbehaves, and the run fails.
pub fn cursor_gone(progress: &Progress, since: i64) -> Option<String> {
    (!progress.full).then(|| {
        format!(
            "the Leader no longer keeps its changes since revision {since} (older ones are pruned)"
        )
    })
}

/// Of the dossiers deleted here and asked back, how many the Leader's answer restores (those
/// it still has in the list); the others stay gone.
pub fn restored(asked: &[i64], answer: &ChangePage) -> i64 {
    answer
        .upserts
        .iter()
        .filter(|d| asked.contains(&d.id))
        .count() as i64
}

/// Whether a completed run verifies the replica against the Leader's digest: after a full
/// resync, and otherwise once a day, so that an incremental run costs what changed, not what
/// the list holds.
pub fn verification_due(
    full: bool,
    verified_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    full || verified_at.is_none_or(|at| now - at > chrono::Duration::hours(VERIFY_EVERY_HOURS))
}

/// What the two digests say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The Leader changed since the run's watermark: its digest says nothing of the run.
    NotComparable,
    Same,
    /// They differ: the replica resyncs from scratch at once, for this reason.
    Diverged(String),
}

pub fn compare(local: &ListDigest, leader: &ListDigest, cursor: i64) -> Verdict {
    if leader.until != cursor {
        return Verdict::NotComparable;
    }
    if local.dossiers == leader.dossiers && local.digest == leader.digest {
        return Verdict::Same;
    }
    Verdict::Diverged(format!(
        "divergence after the run: the Leader has {} dossier(s) (digest {}), this replica {} (digest {}); a full resync follows",
        leader.dossiers, leader.digest, local.dossiers, local.digest
    ))
}

#[cfg(test)]
mod tests;
