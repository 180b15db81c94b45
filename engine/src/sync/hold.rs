//! An Administrator's decision on a held run: another installation answers at the Leader's
//! URL, or the run would remove more of the replica than `SYNC_MAX_DELETE_RATIO` allows (the
//! run found it and held itself: `plan`). A held replica does not run on its schedule;
//! "confirm" lets the run go ahead, "reject" keeps the replica as it is until the next
//! scheduled run checks again, and "sync now" checks again at once.

use super::replicas::replica;
use super::state::{RunRecord, RunState};
use super::{Replica, Replication};
use crate::error::{Error, Result};
use chrono::Utc;
use domain::audit::Actor;

/// Lets a held run go ahead. For another installation at the Leader's URL: it becomes this
/// replica's Leader, and the next run resyncs from scratch from it. For a mass removal: the
/// next run may remove as many dossiers as the held one would have.
pub async fn confirm_hold(sync: &Replication, actor: &Actor, id: i64) -> Result<Replica> {
    decide(
        sync,
        actor,
        id,
        "confirm_hold",
        "confirmed by an Administrator",
        |state| state.confirm_hold(Utc::now()),
    )
    .await?;
    sync.bell.wake();
    replica(&sync.pool, id).await
}

/// Keeps a held replica as it is: nothing of the held run is applied, and the next scheduled
/// run checks again.
pub async fn reject_hold(sync: &Replication, actor: &Actor, id: i64) -> Result<Replica> {
    let next = sync.settings.next_run(Utc::now());
    decide(
        sync,
        actor,
        id,
        "reject_hold",
        "rejected by an Administrator",
        |state| state.reject_hold(next),
    )
    .await?;
    replica(&sync.pool, id).await
}

/// An Administrator's decision, in one transaction the audit log records as theirs with the
/// hold's message: the replica's state, locked, changed as `decided` says and saved; the held
/// run's history says what was decided. "Not held" is a conflict.
async fn decide(
    sync: &Replication,
    actor: &Actor,
    id: i64,
    action: &str,
    decision: &str,
    decided: impl FnOnce(&mut RunState),
) -> Result<()> {
    let mut tx = crate::audit::begin(&sync.pool, actor).await?;
    let mut state = RunState::load(&mut tx, id, true)
        .await?
        .ok_or_else(|| Error::not_found(format!("replica {id} does not exist")))?;
    let Some(hold) = state.hold.clone() else {
        return Err(Error::conflict(
            "id",
            format!("replica {id} is not held: there is nothing to confirm or reject"),
        ));
    };
    let subject = ("replica", Some(id.to_string()));
    crate::audit::record(&mut *tx, actor, action, subject, &hold.message).await?;
    decided(&mut state);
    state.save(&mut tx).await?;
    RunRecord::note_decision(&mut tx, id, decision).await?;
    tx.commit().await?;
    Ok(())
}
