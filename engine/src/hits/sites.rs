//! The Leader's side of hits: a site's batch taken in (whole or not at all), its events stored
//! under the key they have at the site, and the Sites page's view of the fleet.

use crate::error::{Error, Result};
use crate::monitoring::live::LiveEvent;
use crate::monitoring::partitions::oldest_kept;
use crate::monitoring::webhooks::store::{enqueue, Outgoing};
use crate::monitoring::Monitoring;
use chrono::{DateTime, Utc};
use domain::hits::{HitBatch, HitReceipt, Site, SiteAck, SiteListShown, QUIET_SECONDS};
use domain::monitoring::webhooks::{Payload, PayloadEvent, PayloadRef};
use domain::monitoring::Acknowledgement;
use sqlx::PgPool;
use std::collections::{BTreeSet, HashMap};

/// Acknowledgements handed to a site per answer at most; the rest come with the next.
const ACKS_PER_ANSWER: i64 = 1000;

struct Stored {
    id: i64,
    captured_at: DateTime<Utc>,
    inserted: bool,
    camera: String,
    dossier_id: i64,
    dossier_name: String,
    watch_list_id: i64,
    confidence: f32,
    needs_ack: bool,
    has_face: bool,
    list_name: Option<String>,
    notify: Option<bool>,
}

/// Takes a site's batch: checks it, records how the site is, stores the events it had not
/// sent before (and the news of those it had: a better shot, an earlier acknowledgement),
/// alerts for new matches of lists with `notify`, and answers with this Leader's
/// acknowledgements of the site's events.
pub async fn receive(monitoring: &Monitoring, batch: HitBatch) -> Result<HitReceipt> {
    let now = Utc::now();
    batch.check(now)?;
    let pool = &monitoring.pool;
    let (installation, epoch, _) = crate::sync::history::identity(pool).await?;
    if let Some(expected) = batch
        .leader_installation
        .as_deref()
        .filter(|e| *e != installation)
    {
        return Err(Error::conflict(
            "leader_installation",
            format!(
                "this is installation {installation}, not {expected}: the site's lists come from another Leader (a database re-created at this address?)"
            ),
        ));
    }
    if batch.site.installation == installation {
        return Err(Error::conflict(
            "site.installation",
            "an installation does not deliver hits to itself",
        ));
    }
    // Events older than this Leader keeps are taken (the site may forget them) and dropped.
    let oldest = oldest_kept(monitoring.settings.retention_days());
    let events: Vec<_> = batch
        .events
        .iter()
        .filter(|e| e.captured_at.date_naive() >= oldest)
        .collect();
    let days: BTreeSet<_> = events.iter().map(|e| e.captured_at.date_naive()).collect();
    for day in days {
        let at = day.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc();
        monitoring.days.ensure(pool, at).await?;
    }
    let site = &batch.site;
    let lag = events
        .iter()
        .map(|e| (now - e.received_at).num_milliseconds().max(0) as f32 / 1000.0)
        .fold(None, |m: Option<f32>, l| Some(m.map_or(l, |m| m.max(l))));
    let mut tx = pool.begin().await?;
    let site_id = sqlx::query_scalar!(
        "INSERT INTO sites AS s (installation, name, address, face_model, version, lists, backlog,
                                 oldest_pending_at, lag_seconds, last_events_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $10::bool THEN now() END)
         ON CONFLICT (installation) DO UPDATE SET
             name = EXCLUDED.name, address = EXCLUDED.address, face_model = EXCLUDED.face_model,
             version = EXCLUDED.version, lists = EXCLUDED.lists, backlog = EXCLUDED.backlog,
             oldest_pending_at = EXCLUDED.oldest_pending_at,
             lag_seconds = coalesce(EXCLUDED.lag_seconds, s.lag_seconds),
             last_contact_at = now(),
             last_events_at = coalesce(EXCLUDED.last_events_at, s.last_events_at)
         RETURNING id",
        site.installation,
        site.name,
        site.address,
        site.face_model,
        site.version,
        sqlx::types::Json(&site.lists) as _,
        site.backlog,
        site.oldest_pending_at,
        lag,
        !events.is_empty()
    )
    .fetch_one(&mut *tx)
    .await?;
    // What the site says of its own events is not news to send back to it.
    sqlx::query_scalar!("SELECT set_config('dossier.from_site', 'on', true)")
        .fetch_one(&mut *tx)
        .await?;
    let stored = store(&mut tx, site_id, &events).await?;
    sqlx::query_scalar!("SELECT set_config('dossier.from_site', 'off', true)")
        .fetch_one(&mut *tx)
        .await?;
    let new: Vec<&Stored> = stored.iter().filter(|s| s.inserted).collect();
    sqlx::query!(
        "UPDATE sites SET events = events + $2 WHERE id = $1",
        site_id,
        new.len() as i64
    )
    .execute(&mut *tx)
    .await?;
    let outgoing: Vec<Outgoing> = new
        .iter()
        .filter(|s| s.notify == Some(true))
        .map(|s| outgoing(&site.name, s))
        .collect();
    let deliveries = enqueue(&mut tx, &outgoing).await?;
    let acks = sqlx::query!(
        "SELECT id, origin_epoch, origin_id, acknowledged_by, acknowledged_at FROM site_acks
          WHERE site_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        site_id,
        batch.ack_cursor,
        ACKS_PER_ANSWER
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    if deliveries > 0 {
        monitoring.deliveries.notify_one();
    }
    for s in &new {
        monitoring.live.publish(LiveEvent {
            id: s.id,
            camera: s.camera.clone(),
            dossier_name: Some(s.dossier_name.clone()),
            watch_list_id: Some(s.watch_list_id),
            confidence: Some(s.confidence),
            needs_ack: s.needs_ack,
            notify: s.notify == Some(true),
        });
    }
    Ok(HitReceipt {
        installation,
        epoch,
        name: monitoring.site_name.to_string(),
        stored: new.len() as u64,
        ack_cursor: acks.last().map_or(batch.ack_cursor, |a| a.id),
        acks: acks
            .into_iter()
            .map(|a| SiteAck {
                epoch: a.origin_epoch,
                id: a.origin_id,
                acknowledgement: Acknowledgement {
                    by: a.acknowledged_by,
                    at: a.acknowledged_at,
                },
            })
            .collect(),
    })
}

/// The events, each under its key at the site: one it has sent before is updated with what is
/// better now (a later sighting, a better shot, a more confident match, an earlier
/// acknowledgement), never stored twice. The list's `acknowledge` is this Leader's.
async fn store(
    tx: &mut sqlx::PgConnection,
    site: i64,
    events: &[&domain::hits::SiteEvent],
) -> Result<Vec<Stored>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let col = |f: &dyn Fn(&domain::hits::SiteEvent) -> i64| -> Vec<i64> {
        events.iter().map(|e| f(e)).collect()
    };
    let epochs: Vec<&str> = events.iter().map(|e| e.epoch.as_str()).collect();
    let ids = col(&|e| e.id);
    let dossiers = col(&|e| e.dossier_id);
    let lists = col(&|e| e.watch_list_id);
    let captured: Vec<DateTime<Utc>> = events.iter().map(|e| e.captured_at).collect();
    let last_seen: Vec<Option<DateTime<Utc>>> = events.iter().map(|e| e.last_seen_at).collect();
    let cameras: Vec<&str> = events.iter().map(|e| e.camera.as_str()).collect();
    let faces: Vec<Option<&[u8]>> = events.iter().map(|e| e.face_jpeg.as_deref()).collect();
    let codes: Vec<Option<&[u8]>> = events.iter().map(|e| e.face_code.as_deref()).collect();
    let verdicts: Vec<Option<&str>> = events
        .iter()
        .map(|e| {
            e.judged
                .as_ref()
                .and_then(|j| j.verdict.map(|v| v.as_str()))
        })
        .collect();
    let judged_by: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.judged.as_ref().map(|j| j.by.as_str()))
        .collect();
    let judged_at: Vec<Option<DateTime<Utc>>> = events
        .iter()
        .map(|e| e.judged.as_ref().map(|j| j.at))
        .collect();
    let qualities: Vec<Option<f32>> = events.iter().map(|e| e.quality).collect();
    let names: Vec<&str> = events.iter().map(|e| e.dossier_name.as_str()).collect();
    let confidences: Vec<f32> = events.iter().map(|e| e.confidence).collect();
    let ack_by: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.acknowledged.as_ref().map(|a| a.by.as_str()))
        .collect();
    let ack_at: Vec<Option<DateTime<Utc>>> = events
        .iter()
        .map(|e| e.acknowledged.as_ref().map(|a| a.at))
        .collect();
    Ok(sqlx::query_as!(
        Stored,
        r#"WITH incoming AS (
             SELECT * FROM unnest($2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[],
                                  $6::text[], $7::bytea[], $8::real[], $9::bigint[], $10::text[],
                                  $11::bigint[], $12::real[], $13::text[], $14::timestamptz[],
                                  $15::bytea[], $16::text[], $17::text[], $18::timestamptz[])
                 AS i(epoch, id, captured_at, last_seen_at, camera, face, quality, dossier, name,
                      list, confidence, ack_by, ack_at, code, verdict, judged_by, judged_at)),
         stored AS (
             INSERT INTO events AS e (captured_at, camera, last_seen_at, quality, face_jpeg,
                                      dossier_id, dossier_name, photo_id, watch_list_id,
                                      confidence, needs_ack, acknowledged_at, acknowledged_by,
                                      site_id, origin_epoch, origin_id, face_code,
                                      verdict, verdict_by, verdict_at)
             SELECT i.captured_at, i.camera, i.last_seen_at, i.quality, i.face, i.dossier, i.name,
                    (SELECT p.id FROM photos p WHERE p.dossier_id = i.dossier
                      ORDER BY p.face_vector IS NULL, p.id LIMIT 1),
                    i.list, i.confidence, coalesce(l.acknowledge, FALSE), i.ack_at,
                    CASE WHEN i.ack_at IS NOT NULL THEN i.ack_by END, $1, i.epoch, i.id, i.code,
                    CASE WHEN i.judged_at IS NOT NULL THEN i.verdict END, i.judged_by, i.judged_at
               FROM incoming i LEFT JOIN watch_lists l ON l.id = i.list
             ON CONFLICT (site_id, origin_epoch, origin_id, captured_at) WHERE site_id IS NOT NULL
             DO UPDATE SET
                 last_seen_at = greatest(e.last_seen_at, EXCLUDED.last_seen_at),
                 quality = greatest(e.quality, EXCLUDED.quality),
                 face_jpeg = CASE WHEN EXCLUDED.quality > coalesce(e.quality, -1)
                                  THEN coalesce(EXCLUDED.face_jpeg, e.face_jpeg) ELSE e.face_jpeg END,
                 face_code = CASE WHEN EXCLUDED.quality > coalesce(e.quality, -1)
                                  THEN coalesce(EXCLUDED.face_code, e.face_code) ELSE e.face_code END,
                 coded_xid = pg_current_xact_id(),
                 verdict = CASE WHEN EXCLUDED.verdict_at > coalesce(e.verdict_at, '-infinity')
                                THEN EXCLUDED.verdict ELSE e.verdict END,
                 verdict_by = CASE WHEN EXCLUDED.verdict_at > coalesce(e.verdict_at, '-infinity')
                                   THEN EXCLUDED.verdict_by ELSE e.verdict_by END,
                 verdict_at = CASE WHEN EXCLUDED.verdict_at > coalesce(e.verdict_at, '-infinity')
                                   THEN EXCLUDED.verdict_at ELSE e.verdict_at END,
                 dossier_id = CASE WHEN EXCLUDED.confidence > e.confidence
                                   THEN EXCLUDED.dossier_id ELSE e.dossier_id END,
                 dossier_name = CASE WHEN EXCLUDED.confidence > e.confidence
                                     THEN EXCLUDED.dossier_name ELSE e.dossier_name END,
                 photo_id = CASE WHEN EXCLUDED.confidence > e.confidence
                                 THEN EXCLUDED.photo_id ELSE e.photo_id END,
                 watch_list_id = CASE WHEN EXCLUDED.confidence > e.confidence
                                      THEN EXCLUDED.watch_list_id ELSE e.watch_list_id END,
                 confidence = greatest(e.confidence, EXCLUDED.confidence),
                 acknowledged_by = CASE WHEN EXCLUDED.acknowledged_at < coalesce(e.acknowledged_at, 'infinity')
                                        THEN EXCLUDED.acknowledged_by ELSE e.acknowledged_by END,
                 acknowledged_at = CASE WHEN EXCLUDED.acknowledged_at < coalesce(e.acknowledged_at, 'infinity')
                                        THEN EXCLUDED.acknowledged_at ELSE e.acknowledged_at END
             RETURNING e.id, e.captured_at, e.origin_epoch, e.origin_id, e.camera, e.dossier_id,
                       e.dossier_name, e.watch_list_id, e.confidence, e.needs_ack,
                       e.face_jpeg IS NOT NULL AS has_face)
         -- New: not there before the statement (its subqueries all see the table as it was;
         -- a partitioned table's RETURNING cannot tell by xmax).
         SELECT s.id AS "id!", s.captured_at AS "captured_at!",
                NOT EXISTS (SELECT 1 FROM events x
                             WHERE x.site_id = $1 AND x.origin_epoch = s.origin_epoch
                               AND x.origin_id = s.origin_id AND x.captured_at = s.captured_at)
                    AS "inserted!",
                s.camera AS "camera!", s.dossier_id AS "dossier_id!",
                s.dossier_name AS "dossier_name!", s.watch_list_id AS "watch_list_id!",
                s.confidence AS "confidence!", s.needs_ack AS "needs_ack!",
                s.has_face AS "has_face!", l.name AS "list_name?", l.notify AS "notify?"
           FROM stored s LEFT JOIN watch_lists l ON l.id = s.watch_list_id"#,
        site,
        &epochs as &[&str],
        &ids,
        &captured,
        &last_seen as &[Option<DateTime<Utc>>],
        &cameras as &[&str],
        &faces as &[Option<&[u8]>],
        &qualities as &[Option<f32>],
        &dossiers,
        &names as &[&str],
        &lists,
        &confidences,
        &ack_by as &[Option<&str>],
        &ack_at as &[Option<DateTime<Utc>>],
        &codes as &[Option<&[u8]>],
        &verdicts as &[Option<&str>],
        &judged_by as &[Option<&str>],
        &judged_at as &[Option<DateTime<Utc>>]
    )
    .fetch_all(&mut *tx)
    .await?)
}

/// The webhook body of a site's new match: the site's name says where it was seen.
fn outgoing(site_name: &str, s: &Stored) -> Outgoing {
    Outgoing {
        payload: Payload {
            kind: "face.matched".into(),
            installation: site_name.to_string(),
            event: PayloadEvent {
                id: s.id,
                captured_at: s.captured_at.to_rfc3339(),
                camera: s.camera.clone(),
                confidence: Some(s.confidence),
                dossier: Some(PayloadRef {
                    id: s.dossier_id,
                    name: s.dossier_name.clone(),
                }),
                watch_list: Some(PayloadRef {
                    id: s.watch_list_id,
                    name: s.list_name.clone().unwrap_or_default(),
                }),
                needs_ack: s.needs_ack,
                face: s.has_face.then(|| format!("/events/{}/face", s.id)),
            },
        },
        camera: s.camera.clone(),
        matched: Some((s.watch_list_id, s.confidence)),
    }
}

struct SiteRow {
    id: i64,
    installation: String,
    name: String,
    address: String,
    face_model: String,
    version: String,
    lists: sqlx::types::Json<Vec<domain::hits::SiteList>>,
    backlog: i64,
    oldest_pending_at: Option<DateTime<Utc>>,
    lag_seconds: Option<f32>,
    events: i64,
    last_contact_at: DateTime<Utc>,
    last_events_at: Option<DateTime<Utc>>,
    quiet: bool,
}

/// Every site that has reported to this Leader, by name, with this Leader's names of the
/// lists they replicate.
pub async fn list(pool: &PgPool) -> Result<Vec<Site>> {
    let rows = sqlx::query_as!(
        SiteRow,
        r#"SELECT id, installation, name, address, face_model, version,
                  lists AS "lists: sqlx::types::Json<Vec<domain::hits::SiteList>>", backlog,
                  oldest_pending_at, lag_seconds, events, last_contact_at, last_events_at,
                  last_contact_at < now() - make_interval(secs => $1) AS "quiet!"
             FROM sites ORDER BY lower(name), id"#,
        QUIET_SECONDS as f64
    )
    .fetch_all(pool)
    .await?;
    let ids: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.lists.0.iter().map(|l| l.list))
        .collect();
    let names: HashMap<i64, String> =
        sqlx::query!("SELECT id, name FROM watch_lists WHERE id = ANY($1)", &ids)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
    Ok(rows
        .into_iter()
        .map(|r| Site {
            id: r.id,
            installation: r.installation,
            name: r.name,
            address: r.address,
            face_model: r.face_model,
            version: r.version,
            lists: r
                .lists
                .0
                .into_iter()
                .map(|l| SiteListShown {
                    name: names.get(&l.list).cloned(),
                    list: l.list,
                    last_sync_at: l.last_sync_at,
                    state: l.state,
                })
                .collect(),
            backlog: r.backlog,
            oldest_pending_at: r.oldest_pending_at,
            lag_seconds: r.lag_seconds,
            events: r.events,
            last_contact_at: r.last_contact_at,
            last_events_at: r.last_events_at,
            quiet: r.quiet,
        })
        .collect())
}

/// Every site by name, for the Events page's filter.
pub async fn labels(pool: &PgPool) -> Result<Vec<domain::monitoring::EventSite>> {
    Ok(sqlx::query_as!(
        domain::monitoring::EventSite,
        "SELECT id, name FROM sites ORDER BY lower(name), id"
    )
    .fetch_all(pool)
    .await?)
}
