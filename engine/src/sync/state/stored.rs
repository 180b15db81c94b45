//! Where a run's state and record are kept: the replica's row in `replicas` and the run's in
//! `sync_runs`, each read and written by one statement here, and the few questions asked of
//! all of them at once (the runs a dead process left open, the lists being filled).

use super::{HeldRun, Progress, RunRecord, RunState};
use crate::locks;
use crate::sync::{HoldKind, ReplicaState, RunOutcomeKind};
use chrono::{DateTime, Utc};
use sqlx::types::Text;
use sqlx::{PgConnection, PgPool};

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
        if for_update {
            sqlx::query!("SELECT id FROM replicas WHERE id = $1 FOR UPDATE", id)
                .fetch_optional(&mut *db)
                .await?;
        }
        let row = sqlx::query_as!(
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
        .await?;
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
