//! One run of a replica, acting on what `plan` decides: claim it, meet the Leader, pull its
//! changes page by page (fetched by `fetch`, applied by `apply` in one transaction with the
//! run's state), put back what was deleted here, finish by moving the cursor, verify. The run's
//! state and record are loaded once and saved with each step (`state`); a failure is recorded
//! with a backoff, a stop of the installation as an interruption, and either way the recorded
//! progress lets the next run resume.

use super::apply::{apply_page, durable_later, follow_list_settings, sweep_unseen, unaudited};
use super::client::LeaderClient;
use super::error::SyncError;
use super::facts::{exact_removals, has_members, members};
use super::fetch::{fetch_chosen, Fetcher};
use super::plan::{self, Begin, Guard, GuardFacts, Meeting, Page, Start, Verdict};
use super::state::{HeldRun, Progress, RunRecord, RunState};
use super::verify::local_digest;
use super::{restore, ChangePage, Replication, RunOutcomeKind};
use crate::error::Result;
use crate::locks;
use chrono::Utc;
use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Another process is running this replica.
    Busy,
    /// Completed; the replica matches the Leader's digest (or the Leader moved on meanwhile).
    Done { cursor: i64 },
    /// Completed, but the digests differ: a full resync is scheduled at once.
    Diverged { cursor: i64 },
    /// Stopped before changing anything, for an Administrator to decide (see `hold`).
    Held,
    /// The installation stopped during the run, which resumes where it stopped at the next
    /// start.
    Stopped,
}

/// Runs one replica to completion, unless another process holds it. The claim is a session
/// advisory lock on a connection of its own: if this process dies, the connection closes and
/// the claim is gone with it.
pub async fn run(sync: &Replication, id: i64) -> Result<RunOutcome, SyncError> {
    let mut claim = sync.pool.acquire().await?.detach();
    let claimed: bool = sqlx::query_scalar(locks::TRY_CLAIM_REPLICA)
        .bind(id)
        .fetch_one(&mut claim)
        .await?;
    if !claimed {
        return Ok(RunOutcome::Busy);
    }
    let mut db = sync.pool.acquire().await?;
    // With the claim held, a run of this replica still marked running belongs to a process that
    // died; the startup sweep misses it when the dead process's connection outlives that sweep.
    RunRecord::close_stale(&mut db, id).await?;
    let state = RunState::load(&mut db, id, false)
        .await?
        .ok_or_else(|| crate::Error::not_found(format!("replica {id} does not exist")))?;
    let full = state.progress.as_ref().is_some_and(|p| p.full) || state.cursor == 0;
    let record = RunRecord::begin(&mut db, id, full, state.cursor).await?;
    drop(db);
    tracing::Span::current().record("run", record.id);
    let mut run = Run {
        sync,
        state,
        record,
    };
    let result = run.go().await;
    let result = run.conclude(result).await;
    // Closing the connection releases the claim.
    drop(claim);
    result
}

/// A run under way: the replica's state and the run's record as last saved.
struct Run<'a> {
    sync: &'a Replication,
    state: RunState,
    record: RunRecord,
}

/// How the page loop ended.
#[derive(PartialEq)]
enum Pulled {
    All,
    Held,
}

impl Run<'_> {
    fn pool(&self) -> &PgPool {
        &self.sync.pool
    }

    /// The run's progress (it has one from its start to its finish).
    fn progress(&self) -> Progress {
        self.state
            .progress
            .clone()
            .expect("a run under way has its progress")
    }

    /// Saves the state and the record as `change` leaves them, in one transaction; the run's
    /// own copies change only once that committed.
    async fn save(
        &mut self,
        change: impl FnOnce(&mut RunState, &mut RunRecord),
    ) -> Result<(), SyncError> {
        let (mut state, mut record) = (self.state.clone(), self.record.clone());
        change(&mut state, &mut record);
        let mut tx = self.pool().begin().await?;
        state.save(&mut tx).await?;
        record.save(&mut tx).await?;
        tx.commit().await?;
        (self.state, self.record) = (state, record);
        Ok(())
    }

    async fn go(&mut self) -> Result<RunOutcome, SyncError> {
        if self.sync.stop.is_cancelled() {
            return Err(SyncError::Stopped);
        }
        let settings = &self.sync.settings;
        let client = LeaderClient::new(
            &self.state.remote_url,
            &settings.token,
            settings.request_timeout,
        )?
        .with_page_size(settings.page_size);
        let info = client.info().await?;
        let own = super::history::installation_id(self.pool()).await?;
        let list_has_members = has_members(self.pool(), self.state.watch_list_id).await?;
        let meeting = Meeting {
            leader: &info,
            own_installation: &own,
            face_model: &self.sync.face_model,
            record: self.record.id,
            list_has_members,
        };
        match plan::start(&self.state, &meeting)? {
            Start::Hold(held) => {
                self.hold(held).await?;
                return Ok(RunOutcome::Held);
            }
            Start::Go(begin) => self.begin(&begin).await?,
        }
        if self.pull(&client).await? == Pulled::Held {
            return Ok(RunOutcome::Held);
        }
        self.restore(&client).await?;
        let cursor = self.finish().await?;
        self.verify(&client, cursor).await
    }

    async fn begin(&mut self, begin: &Begin) -> Result<(), SyncError> {
        self.save(|state, record| {
            begin.apply(state);
            record.full_resync = begin.progress.full;
            record.reason = begin.reason.clone();
        })
        .await
    }

    /// Records a hold: the replica waits for a decision, and the run's history says why.
    /// Nothing of the run was applied (a hold comes before the first page is).
    async fn hold(&mut self, held: HeldRun) -> Result<(), SyncError> {
        tracing::warn!(replica = self.state.id, "{}", held.message);
        self.save(|state, record| {
            record.outcome = RunOutcomeKind::Held;
            record.reason = Some(held.message.clone());
            state.hold(held);
        })
        .await
    }

    /// Pulls and commits every page of the run. The first page of a new run is checked before
    /// anything is stored (the mass-removal guard); then pages are fetched ahead while the
    /// current one is applied (see `fetch::Fetcher`).
    async fn pull(&mut self, client: &LeaderClient) -> Result<Pulled, SyncError> {
        'run: loop {
            let progress = self.progress();
            let since = if progress.full { 0 } else { self.state.cursor };
            let list = self.state.remote_list_id;
            let first = match client
                .changes(list, since, progress.until, progress.after)
                .await
            {
                Err(SyncError::CursorTooOld(_)) => {
                    self.cursor_gone(&progress, since).await?;
                    continue 'run;
                }
                other => other?,
            };
            self.same_history(&first).await?;
            if progress.until.is_none() {
                if let Some(held) = self.guard(client, &progress, &first).await? {
                    self.hold(held).await?;
                    return Ok(Pulled::Held);
                }
                self.save(|state, _| state.first_page(first.until, first.total))
                    .await?;
            }
            let mut pages = Fetcher::start(self.pool(), client, list, since, first);
            while let Some(fetched) = pages.next().await {
                let (page, photos) = match fetched {
                    Err(SyncError::CursorTooOld(_)) => {
                        self.cursor_gone(&progress, since).await?;
                        continue 'run;
                    }
                    other => other?,
                };
                let after = self.same_history(&page).await?;
                self.commit_page(&page, photos, after).await?;
                if self.sync.stop.is_cancelled() {
                    return Err(SyncError::Stopped);
                }
            }
            return Ok(Pulled::All);
        }
    }

    /// The Leader pruned the changes since the cursor: the run becomes a full resync, or, if
    /// it is one already, fails.
    async fn cursor_gone(&mut self, progress: &Progress, since: i64) -> Result<(), SyncError> {
        let Some(why) = plan::cursor_gone(progress, since) else {
            return Err(SyncError::CursorTooOld(since));
        };
        tracing::warn!(
            replica = self.state.id,
            cursor = since,
            "cursor too old; full resync"
        );
        self.save(|state, record| {
            record.full_resync = true;
            record.reason = Some(why.clone());
            state.resync_from_scratch(why);
        })
        .await
    }

    /// A page of the run's epoch gives where the run goes on after it; one of another epoch
    /// drops the run's progress (the Leader was restored under it).
    async fn same_history(&mut self, page: &ChangePage) -> Result<i64, SyncError> {
        match plan::page(&self.progress(), page) {
            Page::Apply { after } => Ok(after),
            Page::HistoryChanged => {
                self.save(|state, _| state.drop_progress()).await?;
                Err(SyncError::HistoryChanged)
            }
        }
    }

    /// The mass-removal guard, fed the facts it asks for until it decides.
    async fn guard(
        &self,
        client: &LeaderClient,
        progress: &Progress,
        first: &ChangePage,
    ) -> Result<Option<HeldRun>, SyncError> {
        let ratio = self.sync.settings.max_delete_ratio.0;
        let mut facts = GuardFacts::default();
        loop {
            match plan::guard(progress, first, ratio, self.state.confirmed_removals, facts) {
                Guard::Go => return Ok(None),
                Guard::Hold(held) => return Ok(Some(held)),
                Guard::CountReplica => {
                    facts.size = Some(members(self.pool(), self.state.watch_list_id).await?)
                }
                Guard::CountRemovals => {
                    facts.removals = Some(exact_removals(self.pool(), client, &self.state).await?)
                }
            }
        }
    }

    /// Commits one page (its images are stored already, `photos` of them new) and how far the
    /// run got, in one transaction, so that a killed run resumes after the last page it
    /// committed.
    async fn commit_page(
        &mut self,
        page: &ChangePage,
        photos: i64,
        after: i64,
    ) -> Result<(), SyncError> {
        let mut tx = self.pool().begin().await?;
        durable_later(&mut tx).await?;
        let (upserts, removals) = apply_page(&mut tx, &self.state, page).await?;
        follow_list_settings(&mut tx, &self.state, page).await?;
        let (mut state, mut record) = (self.state.clone(), self.record.clone());
        state.applied(after, upserts + removals, photos);
        record.dossiers += upserts;
        record.removals += removals;
        record.photos += photos;
        state.save(&mut tx).await?;
        record.save(&mut tx).await?;
        tx.commit().await?;
        (self.state, self.record) = (state, record);
        Ok(())
    }

    /// Puts back what was deleted here from the replica while the Leader was unreachable, as
    /// the Leader has it now (a dossier the Leader no longer has stays gone).
    async fn restore(&mut self, client: &LeaderClient) -> Result<(), SyncError> {
        let deleted = restore::deleted(self.pool(), self.state.id).await?;
        for asked in deleted.chunks(restore::BATCH) {
            let list = self.state.remote_list_id;
            let (page, photos) = fetch_chosen(self.pool(), client, list, asked).await?;
            self.same_history(&page).await?;
            let mut tx = self.pool().begin().await?;
            durable_later(&mut tx).await?;
            apply_page(&mut tx, &self.state, &page).await?;
            restore::forget(&mut tx, self.state.id, asked).await?;
            let mut record = self.record.clone();
            record.restored += plan::restored(asked, &page);
            record.photos += photos;
            record.save(&mut tx).await?;
            tx.commit().await?;
            self.record = record;
            if self.sync.stop.is_cancelled() {
                return Err(SyncError::Stopped);
            }
        }
        Ok(())
    }

    /// Ends a completed pull in one transaction: after a full resync, what the Leader no longer
    /// sent is removed; the cursor moves to the run's watermark (in the run's epoch), the next
    /// run is scheduled, and the audit log gets the run's one entry.
    async fn finish(&mut self) -> Result<i64, SyncError> {
        let progress = self.progress();
        let now = Utc::now();
        let mut tx = self.pool().begin().await?;
        unaudited(&mut tx).await?;
        let (mut state, mut record) = (self.state.clone(), self.record.clone());
        if progress.full && progress.sweep {
            record.removals += sweep_unseen(&mut tx, &state, progress.run).await?;
        }
        let cursor = state.completed(now, self.sync.settings.next_run(now));
        record.outcome = RunOutcomeKind::Success;
        record.cursor_to = Some(cursor);
        state.save(&mut tx).await?;
        record.save(&mut tx).await?;
        record.audit(&mut tx, &state).await?;
        tx.commit().await?;
        (self.state, self.record) = (state, record);
        Ok(cursor)
    }

    /// The replica's digest against the Leader's, when due; a difference schedules a full
    /// resync at once and says so in the replica's last error and the run's history.
    async fn verify(
        &mut self,
        client: &LeaderClient,
        cursor: i64,
    ) -> Result<RunOutcome, SyncError> {
        let now = Utc::now();
        if !plan::verification_due(self.record.full_resync, self.state.verified_at, now) {
            return Ok(RunOutcome::Done { cursor });
        }
        // Both sides compute at once: each reads the whole list.
        let (leader, local) = tokio::join!(
            client.digest(self.state.remote_list_id),
            local_digest(self.pool(), &self.state, cursor)
        );
        let leader = leader?;
        // The Leader's digest is comparable only if nothing changed there since the watermark.
        if leader.until != cursor {
            return Ok(RunOutcome::Done { cursor });
        }
        match plan::compare(&local?, &leader, cursor) {
            Verdict::NotComparable => Ok(RunOutcome::Done { cursor }),
            Verdict::Same => {
                self.save(|state, _| state.verified(now)).await?;
                Ok(RunOutcome::Done { cursor })
            }
            Verdict::Diverged(message) => {
                tracing::warn!(replica = self.state.id, "{message}");
                self.save(|state, record| {
                    state.diverged(&message, now);
                    record.error = Some(message.clone());
                })
                .await?;
                self.sync.bell.wake();
                Ok(RunOutcome::Diverged { cursor })
            }
        }
    }

    /// After the run: a failure is recorded with its backoff (the progress is kept for the
    /// resume), a stop of the installation as an interruption that resumes at the next start.
    async fn conclude(
        &mut self,
        result: Result<RunOutcome, SyncError>,
    ) -> Result<RunOutcome, SyncError> {
        let now = Utc::now();
        match result {
            Ok(outcome) => {
                tracing::info!(?outcome, "replication run finished");
                Ok(outcome)
            }
            Err(SyncError::Stopped) => {
                let done = self.state.items_done;
                tracing::info!(
                    replica = self.state.id,
                    done,
                    "replication run stopped with the server"
                );
                self.save(|state, record| {
                    state.stopped(now);
                    record.outcome = RunOutcomeKind::Interrupted;
                    let stopped = format!(
                        "stopped with the server after {done} dossier(s); resumes where it stopped"
                    );
                    record.reason = Some(match record.reason.take() {
                        Some(why) => format!("{why}; {stopped}"),
                        None => stopped,
                    });
                })
                .await?;
                Ok(RunOutcome::Stopped)
            }
            Err(error) => {
                let message = error.to_string();
                tracing::warn!(replica = self.state.id, error = %message, "replication run failed");
                let recorded = self
                    .save(|state, record| {
                        state.failed(&message, now);
                        record.outcome = RunOutcomeKind::Failed;
                        record.error = Some(message.clone());
                    })
                    .await;
                if let Err(e) = recorded {
                    tracing::warn!(error = %e, "cannot record the failed run");
                }
                Err(error)
            }
        }
    }
}

/// Marks runs that were in progress when their process stopped, so the history does not show
/// them running forever. Their replicas resume from their recorded progress.
pub async fn close_interrupted_runs(pool: &PgPool) -> Result<()> {
    Ok(RunRecord::close_interrupted(pool).await?)
}

/// The local lists a full sync is filling at this moment, in any process sharing the database
/// (see [`RunState::being_filled`]).
pub async fn lists_being_filled(pool: &PgPool) -> Result<Vec<i64>> {
    Ok(RunState::being_filled(pool).await?)
}
