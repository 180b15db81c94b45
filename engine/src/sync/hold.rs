//! A run stopped before changing anything, for an Administrator to decide: another
//! installation answers at the Leader's URL, or the run would remove more of the replica than
//! `SYNC_MAX_DELETE_RATIO` allows. A held replica does not run on its schedule; "confirm" lets
//! the run go ahead, "reject" keeps the replica as it is until the next scheduled run checks
//! again, and "sync now" checks again at once.

use super::error::SyncError;
use super::replicas::replica;
use super::{Hold, HoldKind, Replica, RunOutcomeKind};
use crate::error::{Error, Result};
use crate::installation::Installation;
use chrono::{DateTime, Utc};
use domain::audit::Actor;
use sqlx::types::Text;
use sqlx::PgPool;

/// What a held run would have done, beyond its message.
pub(super) enum Held<'a> {
    LeaderChanged { installation: &'a str },
    MassRemoval { removals: i64 },
}

/// Records a hold: the replica waits for a decision, and the run's history says why. Nothing of
/// the run was applied (a hold comes before the first page is); why it was to be a full resync
/// stays for the run that goes ahead.
pub(super) async fn hold(
    pool: &PgPool,
    id: i64,
    attempt: i64,
    held: Held<'_>,
    message: &str,
) -> Result<(), SyncError> {
    let (kind, installation, removals) = match held {
        Held::LeaderChanged { installation } => (HoldKind::LeaderChanged, Some(installation), None),
        Held::MassRemoval { removals } => (HoldKind::MassRemoval, None, Some(removals)),
    };
    tracing::warn!(replica = id, "{message}");
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "UPDATE replicas SET state = 'held', hold_kind = $2, hold_message = $3,
             hold_installation = $4, hold_removals = $5, next_run_at = NULL,
             run_id = NULL, run_until = NULL, run_after = 0
         WHERE id = $1",
        id,
        kind.as_str(),
        message,
        installation,
        removals
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE sync_runs SET outcome = $3, finished_at = now(), reason = $2 WHERE id = $1",
        attempt,
        message,
        RunOutcomeKind::Held.as_str()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Lets a held run go ahead. For another installation at the Leader's URL: it becomes this
/// replica's Leader, and the next run resyncs from scratch from it. For a mass removal: the
/// next run may remove as many dossiers as the held one would have.
pub async fn confirm_hold(inst: &Installation, actor: &Actor, id: i64) -> Result<Replica> {
    let (mut tx, hold) = decision(inst, actor, id, "confirm_hold").await?;
    match hold.kind {
        HoldKind::LeaderChanged => {
            sqlx::query!(
                "UPDATE replicas SET leader_installation = hold_installation, leader_epoch = NULL,
                     cursor = 0, run_id = NULL, run_until = NULL, run_after = 0, run_full = FALSE,
                     resync_reason = 'an Administrator accepted installation ' || hold_installation
                         || ' as the Leader at ' || remote_url
                 WHERE id = $1",
                id
            )
            .execute(&mut *tx)
            .await?;
        }
        HoldKind::MassRemoval => {
            sqlx::query!(
                "UPDATE replicas SET confirmed_removals = hold_removals WHERE id = $1",
                id
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    decide(
        &mut tx,
        id,
        "confirmed by an Administrator",
        Some(Utc::now()),
    )
    .await?;
    tx.commit().await?;
    inst.scheduler.wake();
    replica(&inst.pool, id).await
}

/// Keeps a held replica as it is: nothing of the held run is applied, and the next scheduled
/// run checks again.
pub async fn reject_hold(inst: &Installation, actor: &Actor, id: i64) -> Result<Replica> {
    let (mut tx, _) = decision(inst, actor, id, "reject_hold").await?;
    let next = inst.settings.sync.next_run(Utc::now());
    decide(&mut tx, id, "rejected by an Administrator", next).await?;
    tx.commit().await?;
    replica(&inst.pool, id).await
}

/// Begins an Administrator's decision on a hold: the transaction, recorded in the audit log as
/// theirs with the hold's message, and the hold itself.
async fn decision(
    inst: &Installation,
    actor: &Actor,
    id: i64,
    action: &str,
) -> Result<(crate::audit::AuditedTx, Hold)> {
    let mut tx = crate::audit::begin(&inst.pool, actor).await?;
    let hold = held(&mut tx, id).await?;
    let subject = ("replica", Some(id.to_string()));
    crate::audit::record(&mut *tx, actor, action, subject, &hold.message).await?;
    Ok((tx, hold))
}

/// The hold of a replica, locked for the decision; "not held" is a conflict.
async fn held(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, id: i64) -> Result<Hold> {
    let row = sqlx::query!(
        r#"SELECT hold_kind AS "kind: Text<HoldKind>", hold_message FROM replicas WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| Error::not_found(format!("replica {id} does not exist")))?;
    match (row.kind, row.hold_message) {
        (Some(Text(kind)), Some(message)) => Ok(Hold { kind, message }),
        _ => Err(Error::conflict(
            "id",
            format!("replica {id} is not held: there is nothing to confirm or reject"),
        )),
    }
}

/// Ends a hold: the replica is idle again until `next_run`, and the held run's history says
/// what was decided.
async fn decide(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: i64,
    decision: &str,
    next_run: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query!(
        "UPDATE replicas SET state = 'idle', hold_kind = NULL, hold_message = NULL,
             hold_installation = NULL, hold_removals = NULL, next_run_at = $2
         WHERE id = $1",
        id,
        next_run
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "UPDATE sync_runs SET reason = concat_ws(' — ', reason, $2::text)
         WHERE id = (SELECT max(id) FROM sync_runs WHERE replica_id = $1 AND outcome = $3)",
        id,
        decision,
        RunOutcomeKind::Held.as_str()
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
