//! Verdicts on matches (confirmed, or not this person), each one audited, and what a list's
//! verdicts propose for its threshold.

use crate::audit::Db;
use crate::error::{Error, Result};
use domain::monitoring::verdicts::{propose, Calibration, Judgement, Verdict};
use domain::monitoring::Event;
use sqlx::PgPool;

/// Records `verdict` on match `id` as `by`'s (none: withdraws it), with its audit entry, in the
/// caller's audited transaction.
pub async fn judge(db: &mut Db, id: i64, verdict: Option<Verdict>, by: &str) -> Result<()> {
    let event = sqlx::query!(
        "SELECT captured_at, dossier_id, dossier_name, camera FROM events WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_optional(&mut *db)
    .await?
    .ok_or_else(|| Error::not_found(format!("event {id} does not exist")))?;
    if event.dossier_id.is_none() {
        return Err(Error::invalid(
            "id",
            format!("event {id} matched nobody: only a match can be confirmed or rejected"),
        ));
    }
    sqlx::query!(
        "UPDATE events SET verdict = $3, verdict_by = $4, verdict_at = now()
         WHERE id = $1 AND captured_at = $2",
        id,
        event.captured_at,
        verdict.map(Verdict::as_str),
        by
    )
    .execute(&mut *db)
    .await?;
    let (action, summary) = match verdict {
        Some(Verdict::Confirmed) => ("confirm", "the match was confirmed"),
        Some(Verdict::Rejected) => ("reject", "marked: not this person"),
        None => ("withdraw_verdict", "the verdict on the match was withdrawn"),
    };
    let name = format!(
        "{} at {}, {}",
        event.dossier_name.unwrap_or_default(),
        event.camera,
        event.captured_at.format("%Y-%m-%d %H:%M UTC")
    );
    sqlx::query!(
        "INSERT INTO audit_log (actor_id, actor, address, action, subject_kind, subject_id,
                                subject_name, summary)
         SELECT (a ->> 'id')::bigint, a ->> 'name', a ->> 'address', $1, 'event', $2, $3, $4
         FROM audit_actor() AS a",
        action,
        id.to_string(),
        name,
        summary
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// The confidences of list `list`'s confirmed and rejected matches (every site's, on a
/// Leader), its threshold now, and the threshold that keeps `keep` of the confirmed ones.
pub async fn calibration(
    pool: &PgPool,
    list: i64,
    keep: f64,
    default_threshold: f32,
) -> Result<Calibration> {
    let about = sqlx::query!(
        "SELECT name, confidence_threshold FROM watch_lists WHERE id = $1",
        list
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| Error::not_found(format!("watch list {list} does not exist")))?;
    let judged = sqlx::query!(
        r#"SELECT verdict AS "verdict!", confidence AS "confidence!"
           FROM events
           WHERE watch_list_id = $1 AND verdict IS NOT NULL AND confidence IS NOT NULL
           ORDER BY confidence DESC"#,
        list
    )
    .fetch_all(pool)
    .await?;
    let of = |kind: Verdict| -> Vec<f32> {
        judged
            .iter()
            .filter(|j| j.verdict == kind.as_str())
            .map(|j| j.confidence)
            .collect()
    };
    let (confirmed, rejected) = (of(Verdict::Confirmed), of(Verdict::Rejected));
    Ok(Calibration {
        watch_list_id: list,
        watch_list_name: about.name,
        threshold: about.confidence_threshold.unwrap_or(default_threshold),
        own_threshold: about.confidence_threshold.is_some(),
        proposal: propose(&confirmed, &rejected, keep),
        confirmed,
        rejected,
        keep,
    })
}

/// Sets list `list`'s threshold (an Administrator's decision, audited by the list's trigger).
pub async fn apply_threshold(db: &mut Db, list: i64, threshold: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&threshold) || !threshold.is_finite() {
        return Err(Error::invalid("threshold", "must be from 0 to 1"));
    }
    let updated = sqlx::query!(
        "UPDATE watch_lists SET confidence_threshold = $2 WHERE id = $1",
        list,
        threshold
    )
    .execute(&mut *db)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(Error::not_found(format!(
            "watch list {list} does not exist"
        )));
    }
    Ok(())
}

/// The latest verdicts on a dossier's matches, newest first.
pub async fn of_dossier(pool: &PgPool, dossier: i64, limit: i64) -> Result<Vec<Event>> {
    let ids: Vec<i64> = sqlx::query_scalar!(
        "SELECT id FROM events WHERE dossier_id = $1 AND verdict IS NOT NULL
         ORDER BY verdict_at DESC LIMIT $2",
        dossier,
        limit
    )
    .fetch_all(pool)
    .await?;
    let mut events = super::store::by_ids(pool, &ids).await?;
    events.sort_by_key(|e| std::cmp::Reverse(e.verdict.as_ref().map(|j: &Judgement| j.at)));
    Ok(events)
}
