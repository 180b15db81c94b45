//! The Subscriber's outbox (`hit_outbox`, filled by the `events_queue_hit` trigger): the next
//! batch for a Leader, what the site reports with it, the answer taken in, and the backlog the
//! pages and `/metrics` show.

use super::SiteIdentity;
use crate::error::Result;
use chrono::{DateTime, Utc};
use domain::hits::{
    Backlog, HitBatch, HitReceipt, SiteEvent, SiteJudgement, SiteList, SiteReport, MAX_BATCH,
};
use domain::monitoring::Acknowledgement;
use sqlx::{PgConnection, PgPool};

/// A batch stops growing past this many bytes of face pictures (a hundred crops are ~1 MB), so
/// that it stays well inside the Leader's request limit (`UPLOAD_LIMIT`, 10 MB unless set).
const MAX_BATCH_BYTES: i64 = 2 << 20;

/// The Leaders this Subscriber owes a delivery now: those with pending events, and those it
/// replicates from and has not reported to for a heartbeat; each when its backoff allows.
pub async fn due_leaders(pool: &PgPool, heartbeat_seconds: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"WITH known AS (
             SELECT remote_url AS url FROM replicas
             UNION
             SELECT DISTINCT leader_url FROM hit_outbox WHERE version > sent_version)
         SELECT k.url AS "url!" FROM known k LEFT JOIN hit_leaders h ON h.leader_url = k.url
          WHERE coalesce(h.next_attempt_at, now()) <= now()
            AND (EXISTS (SELECT 1 FROM hit_outbox o
                          WHERE o.leader_url = k.url AND o.version > o.sent_version)
                 OR h.last_contact_at IS NULL
                 OR h.last_contact_at < now() - make_interval(secs => $1))
          ORDER BY k.url"#,
        heartbeat_seconds as f64
    )
    .fetch_all(pool)
    .await?)
}

/// Takes the right to deliver to `leader` for the transaction: two server processes on one
/// database never send the same batch at once.
pub async fn claim(db: &mut PgConnection, leader: &str) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(dossier_lock_class('hit_delivery'), hashtext($1))
               AS "taken!""#,
        leader
    )
    .fetch_one(db)
    .await?)
}

struct Pending {
    event_id: i64,
    version: i64,
    epoch: String,
    leader_list: i64,
    leader_dossier: i64,
    captured_at: DateTime<Utc>,
    received_at: Option<DateTime<Utc>>,
    last_seen_at: Option<DateTime<Utc>>,
    camera: Option<String>,
    face_jpeg: Option<Vec<u8>>,
    face_code: Option<Vec<u8>>,
    quality: Option<f32>,
    dossier_name: Option<String>,
    confidence: Option<f32>,
    acknowledged_at: Option<DateTime<Utc>>,
    acknowledged_by: Option<String>,
    verdict: Option<String>,
    verdict_by: Option<String>,
    verdict_at: Option<DateTime<Utc>>,
    face_bytes: i64,
}

/// A batch ready to send, and what it holds (event id, version sent) to mark when it is taken.
pub struct Outgoing {
    pub batch: HitBatch,
    pub sent: Vec<(i64, i64)>,
    /// Rows whose event is gone (its day dropped): nothing to send, marked as sent.
    pub gone: Vec<(i64, i64)>,
    /// Whether more is pending after this batch.
    pub full: bool,
}

/// The next batch for `leader`, oldest first, with the site's report.
pub async fn next_batch(
    db: &mut PgConnection,
    site: &SiteIdentity,
    leader: &str,
) -> Result<Outgoing> {
    let rows = sqlx::query_as!(
        Pending,
        r#"SELECT o.event_id, o.version, o.epoch, o.leader_list, o.leader_dossier, o.captured_at,
                e.received_at AS "received_at?", e.last_seen_at,
                coalesce(c.name, e.camera) AS "camera?", e.face_jpeg, e.face_code, e.quality,
                e.dossier_name,
                e.confidence, e.acknowledged_at, e.acknowledged_by, e.verdict, e.verdict_by,
                e.verdict_at,
                coalesce(length(e.face_jpeg), 0)::bigint AS "face_bytes!"
           FROM hit_outbox o
           LEFT JOIN events e ON e.id = o.event_id AND e.captured_at = o.captured_at
           LEFT JOIN cameras c ON c.id = e.camera_id
          WHERE o.leader_url = $1 AND o.version > o.sent_version
          ORDER BY o.event_id LIMIT $2"#,
        leader,
        MAX_BATCH as i64 + 1
    )
    .fetch_all(&mut *db)
    .await?;
    let mut full = rows.len() > MAX_BATCH;
    let (mut events, mut sent, mut gone) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    for r in rows.into_iter().take(MAX_BATCH) {
        let (Some(received_at), Some(camera)) = (r.received_at, r.camera) else {
            gone.push((r.event_id, r.version));
            continue;
        };
        if bytes + r.face_bytes > MAX_BATCH_BYTES && !events.is_empty() {
            full = true;
            break;
        }
        bytes += r.face_bytes;
        sent.push((r.event_id, r.version));
        events.push(SiteEvent {
            epoch: r.epoch,
            id: r.event_id,
            captured_at: r.captured_at,
            received_at,
            last_seen_at: r.last_seen_at,
            camera,
            face_jpeg: r.face_jpeg,
            face_code: r.face_code,
            quality: r.quality,
            dossier_id: r.leader_dossier,
            dossier_name: r.dossier_name.unwrap_or_default(),
            watch_list_id: r.leader_list,
            confidence: r.confidence.unwrap_or_default(),
            acknowledged: match (r.acknowledged_at, r.acknowledged_by) {
                (Some(at), Some(by)) => Some(Acknowledgement { by, at }),
                _ => None,
            },
            judged: match (r.verdict_at, r.verdict_by) {
                (Some(at), Some(by)) => Some(SiteJudgement {
                    verdict: r.verdict.and_then(|v| v.parse().ok()),
                    by,
                    at,
                }),
                _ => None,
            },
        });
    }
    let mut report = report(&mut *db, site, leader).await?;
    // What still waits once this batch is taken.
    report.backlog = (report.backlog - (sent.len() + gone.len()) as i64).max(0);
    if report.backlog == 0 {
        report.oldest_pending_at = None;
    }
    let known = sqlx::query!(
        r#"SELECT (SELECT leader_installation FROM replicas
                    WHERE remote_url = $1 AND leader_installation IS NOT NULL LIMIT 1)
                      AS "leader_installation?",
                  coalesce((SELECT ack_cursor FROM hit_leaders WHERE leader_url = $1), 0)
                      AS "ack_cursor!""#,
        leader
    )
    .fetch_one(&mut *db)
    .await?;
    Ok(Outgoing {
        batch: HitBatch {
            site: report,
            leader_installation: known.leader_installation,
            ack_cursor: known.ack_cursor,
            events,
        },
        sent,
        gone,
        full,
    })
}

/// How the site is, as its Leader `leader` sees it: the lists it replicates from it and the
/// backlog it holds for it.
async fn report(db: &mut PgConnection, site: &SiteIdentity, leader: &str) -> Result<SiteReport> {
    let lists = sqlx::query!(
        "SELECT remote_list_id, last_success_at, state FROM replicas
          WHERE remote_url = $1 ORDER BY remote_list_id",
        leader
    )
    .fetch_all(&mut *db)
    .await?;
    let pending = sqlx::query!(
        r#"SELECT (SELECT id FROM installation) AS "installation!", count(*) AS "backlog!",
                  min(queued_at) AS oldest
             FROM hit_outbox WHERE leader_url = $1 AND version > sent_version"#,
        leader
    )
    .fetch_one(&mut *db)
    .await?;
    Ok(SiteReport {
        installation: pending.installation,
        name: site.name.clone(),
        address: site.address.clone(),
        face_model: site.face_model.clone(),
        version: site.version.clone(),
        lists: lists
            .into_iter()
            .map(|r| SiteList {
                list: r.remote_list_id,
                last_sync_at: r.last_success_at,
                state: r.state,
            })
            .collect(),
        backlog: pending.backlog,
        oldest_pending_at: pending.oldest,
    })
}

/// Takes in the Leader's answer to `sent`: the events are marked delivered at the version
/// sent (a change made since is still pending), the Leader's acknowledgements are applied
/// (the earliest acknowledgement of an event wins, on both sides), and a Leader that lost
/// history (a new epoch) is owed everything again.
pub async fn delivered(
    db: &mut PgConnection,
    leader: &str,
    outgoing: &Outgoing,
    receipt: &HitReceipt,
) -> Result<()> {
    let known = sqlx::query_scalar!(
        "SELECT leader_epoch FROM hit_leaders WHERE leader_url = $1",
        leader
    )
    .fetch_optional(&mut *db)
    .await?
    .flatten();
    let restored = known.as_deref().is_some_and(|k| k != receipt.epoch);
    let marked = [outgoing.sent.as_slice(), outgoing.gone.as_slice()].concat();
    let (ids, versions): (Vec<i64>, Vec<i64>) = marked.into_iter().unzip();
    sqlx::query!(
        "UPDATE hit_outbox o SET sent_version = greatest(o.sent_version, s.version),
                delivered_at = now()
           FROM unnest($1::bigint[], $2::bigint[]) AS s(id, version)
          WHERE o.event_id = s.id",
        &ids,
        &versions
    )
    .execute(&mut *db)
    .await?;
    if restored {
        tracing::warn!(
            leader,
            "the Leader's history went back (restored from a backup?): sending it again every event it was sent"
        );
        sqlx::query!(
            "UPDATE hit_outbox SET sent_version = 0 WHERE leader_url = $1",
            leader
        )
        .execute(&mut *db)
        .await?;
    }
    apply_acks(&mut *db, leader, receipt).await?;
    sqlx::query!(
        "INSERT INTO hit_leaders AS h (leader_url, leader_epoch, ack_cursor, last_contact_at,
                                       last_delivery_at, delivered)
         VALUES ($1, $2, $3, now(), CASE WHEN $4::bigint > 0 THEN now() END, $4::bigint)
         ON CONFLICT (leader_url) DO UPDATE SET
             leader_epoch = EXCLUDED.leader_epoch,
             ack_cursor = CASE WHEN $5::bool THEN 0 ELSE EXCLUDED.ack_cursor END,
             last_contact_at = now(),
             last_delivery_at = coalesce(EXCLUDED.last_delivery_at, h.last_delivery_at),
             delivered = h.delivered + $4,
             failures = 0, last_error = NULL, last_error_at = NULL, next_attempt_at = now()",
        leader,
        receipt.epoch,
        receipt.ack_cursor,
        receipt.stored as i64,
        restored
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// The Leader's acknowledgements, applied where this copy has none or a later one; not queued
/// to go back up.
async fn apply_acks(db: &mut PgConnection, leader: &str, receipt: &HitReceipt) -> Result<()> {
    if receipt.acks.is_empty() {
        return Ok(());
    }
    let epochs: Vec<&str> = receipt.acks.iter().map(|a| a.epoch.as_str()).collect();
    let ids: Vec<i64> = receipt.acks.iter().map(|a| a.id).collect();
    let bys: Vec<&str> = receipt
        .acks
        .iter()
        .map(|a| a.acknowledgement.by.as_str())
        .collect();
    let ats: Vec<DateTime<Utc>> = receipt.acks.iter().map(|a| a.acknowledgement.at).collect();
    sqlx::query_scalar!("SELECT set_config('dossier.from_leader', 'on', true)")
        .fetch_one(&mut *db)
        .await?;
    sqlx::query!(
        "UPDATE events e SET acknowledged_at = a.at, acknowledged_by = a.by
           FROM unnest($2::text[], $3::bigint[], $4::text[], $5::timestamptz[])
                AS a(epoch, id, by, at)
           JOIN hit_outbox o ON o.event_id = a.id AND o.epoch = a.epoch AND o.leader_url = $1
          WHERE e.id = o.event_id AND e.captured_at = o.captured_at
            AND (e.acknowledged_at IS NULL OR e.acknowledged_at > a.at)",
        leader,
        &epochs as &[&str],
        &ids,
        &bys as &[&str],
        &ats
    )
    .execute(&mut *db)
    .await?;
    sqlx::query_scalar!("SELECT set_config('dossier.from_leader', 'off', true)")
        .fetch_one(&mut *db)
        .await?;
    Ok(())
}

/// A delivery that failed: said on the Replication page, and tried again after `wait`.
pub async fn failed(pool: &PgPool, leader: &str, error: &str, wait_seconds: f64) -> Result<()> {
    sqlx::query!(
        "INSERT INTO hit_leaders AS h (leader_url, failures, last_error, last_error_at,
                                       next_attempt_at)
         VALUES ($1, 1, $2, now(), now() + make_interval(secs => $3))
         ON CONFLICT (leader_url) DO UPDATE SET
             failures = h.failures + 1, last_error = $2, last_error_at = now(),
             next_attempt_at = now() + make_interval(secs => $3)",
        leader,
        error,
        wait_seconds
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Failures in a row so far for `leader`.
pub async fn failures(pool: &PgPool, leader: &str) -> Result<i32> {
    Ok(sqlx::query_scalar!(
        "SELECT failures FROM hit_leaders WHERE leader_url = $1",
        leader
    )
    .fetch_optional(pool)
    .await?
    .unwrap_or(0))
}

struct BacklogRow {
    leader_url: String,
    pending: i64,
    oldest_pending_at: Option<DateTime<Utc>>,
    delivered: i64,
    undelivered: i64,
    last_delivery_at: Option<DateTime<Utc>>,
    last_contact_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    orphaned: bool,
}

/// What this Subscriber holds for each Leader it delivers to.
pub async fn backlogs(pool: &PgPool) -> Result<Vec<Backlog>> {
    let rows = sqlx::query_as!(
        BacklogRow,
        r#"WITH known AS (
             SELECT remote_url AS url FROM replicas
             UNION SELECT leader_url FROM hit_leaders
             UNION SELECT DISTINCT leader_url FROM hit_outbox WHERE version > sent_version),
         pending AS (
             SELECT leader_url, count(*) AS n, min(queued_at) AS oldest FROM hit_outbox
              WHERE version > sent_version GROUP BY leader_url)
         SELECT k.url AS "leader_url!", coalesce(p.n, 0) AS "pending!",
                p.oldest AS "oldest_pending_at?",
                coalesce(h.delivered, 0) AS "delivered!",
                coalesce(h.undelivered, 0) AS "undelivered!",
                h.last_delivery_at AS "last_delivery_at?", h.last_contact_at AS "last_contact_at?",
                h.last_error AS "last_error?",
                NOT EXISTS (SELECT 1 FROM replicas r WHERE r.remote_url = k.url) AS "orphaned!"
           FROM known k
           LEFT JOIN pending p ON p.leader_url = k.url
           LEFT JOIN hit_leaders h ON h.leader_url = k.url
          ORDER BY k.url"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Backlog {
            leader_url: r.leader_url,
            pending: r.pending,
            oldest_pending_at: r.oldest_pending_at,
            delivered: r.delivered,
            undelivered: r.undelivered,
            last_delivery_at: r.last_delivery_at,
            last_contact_at: r.last_contact_at,
            last_error: r.last_error,
            orphaned: r.orphaned,
        })
        .collect())
}

/// Drops outbox rows of events older than the retention (their events are gone); the pending
/// ones among them are counted as never delivered. Returns how many rows went.
pub async fn prune(pool: &PgPool, retention_days: i32) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let oldest = crate::monitoring::partitions::oldest_kept(retention_days);
    sqlx::query!(
        "WITH lost AS (
             SELECT leader_url, count(*) AS n FROM hit_outbox
              WHERE captured_at < $1::date AND version > sent_version GROUP BY leader_url)
         INSERT INTO hit_leaders AS h (leader_url, undelivered)
         SELECT leader_url, n FROM lost
         ON CONFLICT (leader_url) DO UPDATE SET undelivered = h.undelivered + EXCLUDED.undelivered",
        oldest
    )
    .execute(&mut *tx)
    .await?;
    let gone = sqlx::query!(
        "DELETE FROM hit_outbox WHERE captured_at < $1::date",
        oldest
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query!("DELETE FROM site_acks WHERE created_at < $1::date", oldest)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(gone)
}
