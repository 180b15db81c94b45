//! A replica's run state, and its run's record in the history: each one value, loaded and
//! saved here and nowhere else. Everything that changes them is a method of theirs, pure (no
//! database, no clock but the one given), so that `plan` and `run` say what happens and this
//! module only how it is kept.
//!
//! The state is the replica's row in `replicas` but its identity (what the Replication page
//! lists and an Administrator creates): the cursor and the Leader it belongs to, the run in
//! progress (so that a killed run resumes), why the next run is a full resync, a hold waiting
//! for an Administrator, the counts the page shows, the last success and error, the next run.

use super::{HoldKind, ReplicaState, RunOutcomeKind};
use crate::backoff::Backoff;
use crate::locks;
use chrono::{DateTime, Utc};
use sqlx::types::Text;
use sqlx::{PgConnection, PgPool};
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

struct Row {
    id: i64,
    watch_list_id: i64,
    remote_url: String,
    remote_list_id: i64,
    state: Text<ReplicaState>,
    cursor: i64,
    leader_epoch: Option<String>,
    leader_installation: Option<String>,
    run_id: Option<i64>,
    run_full: bool,
    run_sweep: bool,
    run_epoch: Option<String>,
    run_until: Option<i64>,
    run_after: i64,
    resync_reason: Option<String>,
    confirmed_removals: Option<i64>,
    verified_at: Option<DateTime<Utc>>,
    failures: i32,
    hold_kind: Option<Text<HoldKind>>,
    hold_message: Option<String>,
    hold_installation: Option<String>,
    hold_removals: Option<i64>,
    items_done: i64,
    items_total: Option<i64>,
    photos_done: i64,
    last_success_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    next_run_at: Option<DateTime<Utc>>,
}

impl From<Row> for RunState {
    fn from(r: Row) -> Self {
        let progress = r.run_id.map(|run| Progress {
            run,
            full: r.run_full,
            sweep: r.run_sweep,
            epoch: r.run_epoch.unwrap_or_default(),
            until: r.run_until,
            after: r.run_after,
        });
        let hold = match (r.hold_kind, r.hold_message) {
            (Some(Text(kind)), Some(message)) => Some(HeldRun {
                kind,
                message,
                installation: r.hold_installation,
                removals: r.hold_removals,
            }),
            _ => None,
        };
        Self {
            id: r.id,
            watch_list_id: r.watch_list_id,
            remote_url: r.remote_url,
            remote_list_id: r.remote_list_id,
            state: r.state.0,
            cursor: r.cursor,
            leader_epoch: r.leader_epoch,
            leader_installation: r.leader_installation,
            progress,
            resync_reason: r.resync_reason,
            confirmed_removals: r.confirmed_removals,
            verified_at: r.verified_at,
            failures: r.failures,
            hold,
            items_done: r.items_done,
            items_total: r.items_total,
            photos_done: r.photos_done,
            last_success_at: r.last_success_at,
            last_error: r.last_error,
            last_error_at: r.last_error_at,
            next_run_at: r.next_run_at,
        }
    }
}

impl RunState {
    /// The replica's state, if it exists; `for_update` locks its row until the transaction
    /// ends (an Administrator's decision on a hold).
    pub async fn load(
        db: &mut PgConnection,
        id: i64,
        for_update: bool,
    ) -> Result<Option<Self>, sqlx::Error> {
        let row = if for_update {
            sqlx::query_as!(
                Row,
                r#"SELECT id, watch_list_id, remote_url, remote_list_id,
                          state AS "state: Text<ReplicaState>", cursor, leader_epoch,
                          leader_installation, run_id, run_full, run_sweep, run_epoch, run_until,
                          run_after, resync_reason, confirmed_removals, verified_at, failures,
                          hold_kind AS "hold_kind: Text<HoldKind>", hold_message,
                          hold_installation, hold_removals, items_done, items_total,
                          photos_done, last_success_at, last_error, last_error_at, next_run_at
                   FROM replicas WHERE id = $1 FOR UPDATE"#,
                id
            )
            .fetch_optional(db)
            .await?
        } else {
            sqlx::query_as!(
                Row,
                r#"SELECT id, watch_list_id, remote_url, remote_list_id,
                          state AS "state: Text<ReplicaState>", cursor, leader_epoch,
                          leader_installation, run_id, run_full, run_sweep, run_epoch, run_until,
                          run_after, resync_reason, confirmed_removals, verified_at, failures,
                          hold_kind AS "hold_kind: Text<HoldKind>", hold_message,
                          hold_installation, hold_removals, items_done, items_total,
                          photos_done, last_success_at, last_error, last_error_at, next_run_at
                   FROM replicas WHERE id = $1"#,
                id
            )
            .fetch_optional(db)
            .await?
        };
        Ok(row.map(Self::from))
    }

    /// Writes the state back (the replica's identity is not the run's to change). A replica
    /// cancelled meanwhile is simply gone.
    pub async fn save(&self, db: &mut PgConnection) -> Result<(), sqlx::Error> {
        let p = self.progress.as_ref();
        let h = self.hold.as_ref();
        sqlx::query!(
            "UPDATE replicas SET state = $2, cursor = $3, leader_epoch = $4,
                 leader_installation = $5, run_id = $6, run_full = $7, run_sweep = $8,
                 run_epoch = $9, run_until = $10, run_after = $11, resync_reason = $12,
                 confirmed_removals = $13, verified_at = $14, failures = $15, hold_kind = $16,
                 hold_message = $17, hold_installation = $18, hold_removals = $19,
                 items_done = $20, items_total = $21, photos_done = $22, last_success_at = $23,
                 last_error = $24, last_error_at = $25, next_run_at = $26
             WHERE id = $1",
            self.id,
            self.state.as_str(),
            self.cursor,
            self.leader_epoch,
            self.leader_installation,
            p.map(|p| p.run),
            p.is_some_and(|p| p.full),
            p.is_none_or(|p| p.sweep),
            p.map(|p| p.epoch.as_str()),
            p.and_then(|p| p.until),
            p.map_or(0, |p| p.after),
            self.resync_reason,
            self.confirmed_removals,
            self.verified_at,
            self.failures,
            h.map(|h| h.kind.as_str()),
            h.map(|h| h.message.as_str()),
            h.and_then(|h| h.installation.as_deref()),
            h.and_then(|h| h.removals),
            self.items_done,
            self.items_total,
            self.photos_done,
            self.last_success_at,
            self.last_error,
            self.last_error_at,
            self.next_run_at,
        )
        .execute(db)
        .await?;
        Ok(())
    }
}

impl RunRecord {
    /// A new run in the history, begun now from `cursor`.
    pub async fn begin(
        db: &mut PgConnection,
        replica: i64,
        full_resync: bool,
        cursor: i64,
    ) -> Result<Self, sqlx::Error> {
        let id = sqlx::query_scalar!(
            "INSERT INTO sync_runs (replica_id, full_resync, cursor_from) VALUES ($1, $2, $3)
             RETURNING id",
            replica,
            full_resync,
            cursor,
        )
        .fetch_one(db)
        .await?;
        Ok(Self {
            id,
            full_resync,
            cursor_to: None,
            outcome: RunOutcomeKind::Running,
            dossiers: 0,
            removals: 0,
            photos: 0,
            restored: 0,
            reason: None,
            error: None,
        })
    }

    /// Writes the record back; a run that ended gets its end time.
    pub async fn save(&self, db: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE sync_runs SET full_resync = $2, cursor_to = $3, outcome = $4, dossiers = $5,
                 removals = $6, photos = $7, restored = $8, reason = $9, error = $10,
                 finished_at = CASE WHEN $4 = 'running' THEN NULL
                                    ELSE coalesce(finished_at, now()) END
             WHERE id = $1",
            self.id,
            self.full_resync,
            self.cursor_to,
            self.outcome.as_str(),
            self.dossiers,
            self.removals,
            self.photos,
            self.restored,
            self.reason,
            self.error,
        )
        .execute(db)
        .await?;
        Ok(())
    }
}

impl RunState {
    /// The local lists a full sync is filling at this moment, in any process sharing the
    /// database: replicas whose claim a live session holds (a run that died does not count,
    /// even before its replica is marked) and whose run under that claim is a full one. The
    /// run is the replica's latest: from its start to its verification, which reads the whole
    /// list on both sides and may find the replica diverged and start over, so an index of it
    /// is worth building only after that.
    pub async fn being_filled(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar(&format!(
            "SELECT r.watch_list_id FROM replicas r
             WHERE EXISTS (SELECT 1 FROM pg_locks l WHERE {})
               AND (r.run_full AND r.run_id IS NOT NULL
                    OR (SELECT s.full_resync FROM sync_runs s WHERE s.replica_id = r.id
                        ORDER BY s.id DESC LIMIT 1))",
            locks::claim_held("r.id")
        ))
        .fetch_all(pool)
        .await
    }
}

impl RunRecord {
    /// Marks the runs of `replica` still shown running as interrupted: with its claim held,
    /// they belong to a process that died.
    pub async fn close_stale(db: &mut PgConnection, replica: i64) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE sync_runs SET outcome = $2, finished_at = now()
             WHERE replica_id = $1 AND outcome = $3",
            replica,
            RunOutcomeKind::Interrupted.as_str(),
            RunOutcomeKind::Running.as_str()
        )
        .execute(db)
        .await?;
        Ok(())
    }

    /// Marks runs that were in progress when their process stopped, so the history does not
    /// show them running forever: only those no live process holds (a run's claim is an
    /// advisory lock).
    pub async fn close_interrupted(pool: &PgPool) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "UPDATE sync_runs s SET outcome = $1, finished_at = now()
             WHERE s.outcome = $2 AND NOT EXISTS (
                SELECT 1 FROM pg_locks l WHERE {})",
            locks::claim_held("s.replica_id")
        ))
        .bind(RunOutcomeKind::Interrupted.as_str())
        .bind(RunOutcomeKind::Running.as_str())
        .execute(pool)
        .await?;
        Ok(())
    }

    /// An Administrator's decision on a hold, added to the held run's reason.
    pub async fn note_decision(
        db: &mut PgConnection,
        replica: i64,
        decision: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE sync_runs SET reason = concat_ws(' — ', reason, $2::text)
             WHERE id = (SELECT max(id) FROM sync_runs WHERE replica_id = $1 AND outcome = $3)",
            replica,
            decision,
            RunOutcomeKind::Held.as_str()
        )
        .execute(db)
        .await?;
        Ok(())
    }

    /// The audit log's one entry for a completed run (its rows are not recorded one by one).
    pub async fn audit(&self, db: &mut PgConnection, state: &RunState) -> Result<(), sqlx::Error> {
        let kind = if self.full_resync {
            "full"
        } else {
            "incremental"
        };
        sqlx::query!(
            "INSERT INTO audit_log (actor, action, subject_kind, subject_id, summary)
             VALUES ('replication of list ' || $1 || ' from Leader ' || $2, 'sync', 'watch_list',
                     $3::bigint::text,
                     format('%s run: %s dossier(s) written, %s removed, %s photo(s), %s restored',
                            $4::text, $5::bigint, $6::bigint, $7::bigint, $8::bigint))",
            state.remote_list_id.to_string(),
            state.remote_url,
            state.watch_list_id,
            kind,
            self.dossiers,
            self.removals,
            self.photos,
            self.restored,
        )
        .execute(db)
        .await?;
        Ok(())
    }
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
