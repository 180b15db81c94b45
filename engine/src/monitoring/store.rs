//! Events in PostgreSQL: the page's keyset query, acknowledgement, and the face pictures.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use domain::faces::FaceBox;
use domain::monitoring::verdicts::{Judgement, Verdict};
use domain::monitoring::{
    Acknowledgement, Event, EventCursor, EventFilter, EventMatch, EventPage, EventSite, SiteFilter,
    AWAITING_COUNT_CAP, PAGE_SIZE,
};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

/// The conditions of `filter` on `events e`, appended to a query that has a WHERE clause.
fn push_filter(q: &mut QueryBuilder<'_, Postgres>, filter: &EventFilter) {
    if let Some(camera) = &filter.camera {
        // The name it was posted with, or its camera's name now.
        q.push(" AND (e.camera = ")
            .push_bind(camera.clone())
            .push(" OR e.camera_id IN (SELECT id FROM cameras WHERE name = ")
            .push_bind(camera.clone())
            .push("))");
    }
    if let Some(list) = filter.watch_list {
        q.push(" AND e.watch_list_id = ").push_bind(list);
    }
    match filter.matched {
        Some(true) => q.push(" AND e.dossier_id IS NOT NULL"),
        Some(false) => q.push(" AND e.dossier_id IS NULL"),
        None => q,
    };
    match filter.acknowledged {
        Some(false) => q.push(" AND e.needs_ack AND e.acknowledged_at IS NULL"),
        Some(true) => q.push(" AND e.acknowledged_at IS NOT NULL"),
        None => q,
    };
    if let Some(from) = filter.from {
        q.push(" AND e.captured_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        q.push(" AND e.captured_at < ").push_bind(to);
    }
    match filter.site {
        Some(SiteFilter::Here) => q.push(" AND e.site_id IS NULL"),
        Some(SiteFilter::Site(site)) => q.push(" AND e.site_id = ").push_bind(site),
        None => q,
    };
}

/// What the page shows of an event, from `events e` and what it refers to; a WHERE clause follows.
const EVENT_SELECT: &str =
    "SELECT e.id, e.captured_at, e.received_at, coalesce(c.name, e.camera) AS camera,
                e.camera_id, e.last_seen_at, e.quality, e.face_box,
                e.face_jpeg IS NOT NULL AS has_face, e.frame_jpeg IS NOT NULL AS has_frame,
                e.face_code IS NOT NULL AS searchable, e.verdict, e.verdict_by, e.verdict_at,
                e.dossier_id, e.dossier_name,
                e.watch_list_id, e.confidence, e.needs_ack, e.acknowledged_at, e.acknowledged_by,
                encode(p.image_sha256, 'hex') AS photo_sha256, l.name AS list_name, l.color,
                e.site_id, s.name AS site_name
         FROM events e
         LEFT JOIN cameras c ON c.id = e.camera_id
         LEFT JOIN sites s ON s.id = e.site_id
         LEFT JOIN photos p ON p.id = e.photo_id
         LEFT JOIN watch_lists l ON l.id = e.watch_list_id
         WHERE TRUE";

/// Up to `size` events of `filter`, newest first, from `before` on (keyset: the events page's
/// indexes serve it at any depth).
pub async fn batch(
    pool: &PgPool,
    filter: &EventFilter,
    before: Option<EventCursor>,
    size: i64,
) -> Result<Vec<Event>> {
    let mut q = QueryBuilder::new(EVENT_SELECT);
    push_filter(&mut q, filter);
    if let Some(c) = before {
        let at = DateTime::<Utc>::from_timestamp_micros(c.captured_at_micros)
            .ok_or_else(|| Error::invalid("before", "is not a page of events"))?;
        q.push(" AND (e.captured_at, e.id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }
    q.push(" ORDER BY e.captured_at DESC, e.id DESC LIMIT ")
        .push_bind(size);
    let rows = q.build().fetch_all(pool).await?;
    rows.iter().map(event_of).collect()
}

/// One page of events, newest first, from `before` on.
pub async fn page(
    pool: &PgPool,
    filter: &EventFilter,
    before: Option<EventCursor>,
) -> Result<EventPage> {
    let mut events = batch(pool, filter, before, PAGE_SIZE + 1).await?;
    let next = (events.len() as i64 > PAGE_SIZE).then(|| {
        events.truncate(PAGE_SIZE as usize);
        events.last().map(|e| EventCursor::of(e).to_string())
    });
    let mut count = QueryBuilder::new(
        "SELECT count(*) FROM (SELECT 1 FROM events e WHERE e.needs_ack AND e.acknowledged_at IS NULL",
    );
    push_filter(&mut count, filter);
    count
        .push(" LIMIT ")
        .push_bind(AWAITING_COUNT_CAP)
        .push(") AS awaiting");
    let awaiting: i64 = count.build_query_scalar().fetch_one(pool).await?;
    Ok(EventPage {
        events,
        next: next.flatten(),
        awaiting,
    })
}

/// The events of `ids` that still exist, in no particular order.
pub async fn by_ids(pool: &PgPool, ids: &[i64]) -> Result<Vec<Event>> {
    let mut q = QueryBuilder::new(EVENT_SELECT);
    q.push(" AND e.id = ANY(").push_bind(ids.to_vec()).push(")");
    let rows = q.build().fetch_all(pool).await?;
    rows.iter().map(event_of).collect()
}

fn event_of(r: &sqlx::postgres::PgRow) -> Result<Event> {
    let face_box: Option<Vec<i32>> = r.try_get("face_box")?;
    let dossier: Option<i64> = r.try_get("dossier_id")?;
    let acknowledged_at: Option<DateTime<Utc>> = r.try_get("acknowledged_at")?;
    let site: Option<i64> = r.try_get("site_id")?;
    let matched = match dossier {
        Some(dossier_id) => Some(EventMatch {
            dossier_id,
            dossier_name: r
                .try_get::<Option<String>, _>("dossier_name")?
                .unwrap_or_default(),
            photo_sha256: r.try_get("photo_sha256")?,
            watch_list_id: r
                .try_get::<Option<i64>, _>("watch_list_id")?
                .unwrap_or_default(),
            watch_list_name: r.try_get("list_name")?,
            color: r.try_get("color")?,
            confidence: r
                .try_get::<Option<f32>, _>("confidence")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let verdict: Option<String> = r.try_get("verdict")?;
    let judged_at: Option<DateTime<Utc>> = r.try_get("verdict_at")?;
    let verdict = match (verdict.and_then(|v| v.parse::<Verdict>().ok()), judged_at) {
        (Some(verdict), Some(at)) => Some(Judgement {
            verdict,
            by: r
                .try_get::<Option<String>, _>("verdict_by")?
                .unwrap_or_default(),
            at,
        }),
        _ => None,
    };
    Ok(Event {
        id: r.try_get("id")?,
        verdict,
        captured_at: r.try_get("captured_at")?,
        received_at: r.try_get("received_at")?,
        camera: r.try_get("camera")?,
        camera_id: r.try_get("camera_id")?,
        last_seen_at: r.try_get("last_seen_at")?,
        quality: r.try_get("quality")?,
        face_box: face_box.as_deref().and_then(FaceBox::from_slice),
        has_face: r.try_get("has_face")?,
        has_frame: r.try_get("has_frame")?,
        searchable: r.try_get("searchable")?,
        matched,
        needs_ack: r.try_get("needs_ack")?,
        acknowledged: match acknowledged_at {
            Some(at) => Some(Acknowledgement {
                by: r
                    .try_get::<Option<String>, _>("acknowledged_by")?
                    .unwrap_or_default(),
                at,
            }),
            None => None,
        },
        site: match site {
            Some(id) => Some(EventSite {
                id,
                name: r
                    .try_get::<Option<String>, _>("site_name")?
                    .unwrap_or_default(),
            }),
            None => None,
        },
    })
}

/// Acknowledges one event as `by`. An event that needs none, or is acknowledged already, is a
/// conflict that says so (and by whom).
pub async fn acknowledge(pool: &PgPool, id: i64, by: &str) -> Result<Acknowledgement> {
    let row = sqlx::query!(
        r#"WITH done AS (
               UPDATE events SET acknowledged_at = now(), acknowledged_by = $2
               WHERE id = $1 AND needs_ack AND acknowledged_at IS NULL
               RETURNING acknowledged_at, acknowledged_by)
           SELECT acknowledged_at AS "at?", acknowledged_by AS "by?", NULL::bool AS "needs_ack?"
           FROM done
           UNION ALL
           SELECT acknowledged_at, acknowledged_by, needs_ack FROM events
           WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM done)"#,
        id,
        by
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| Error::not_found(format!("no event {id}")))?;
    match (row.at, row.by, row.needs_ack) {
        (Some(at), Some(by), None) => Ok(Acknowledgement { by, at }),
        (Some(at), Some(who), Some(_)) => Err(Error::conflict(
            "id",
            format!(
                "event {id} was acknowledged already, by {who} at {}",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        )),
        _ => Err(Error::conflict(
            "id",
            format!("event {id} needs no acknowledgement (its list does not ask for it)"),
        )),
    }
}

/// Acknowledges every event of `filter` that awaits it; returns how many.
pub async fn acknowledge_all(pool: &PgPool, filter: &EventFilter, by: &str) -> Result<u64> {
    let mut q =
        QueryBuilder::new("UPDATE events e SET acknowledged_at = now(), acknowledged_by = ");
    q.push_bind(by.to_string())
        .push(" WHERE e.needs_ack AND e.acknowledged_at IS NULL");
    push_filter(&mut q, filter);
    Ok(q.build().execute(pool).await?.rows_affected())
}

/// The face an event's photo showed, as a JPEG.
pub async fn face(pool: &PgPool, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar!("SELECT face_jpeg FROM events WHERE id = $1", id)
            .fetch_optional(pool)
            .await?
            .flatten(),
    )
}

/// The small picture of the frame a camera's event was seen in (JPEG), if it has one.
pub async fn frame(pool: &PgPool, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar!("SELECT frame_jpeg FROM events WHERE id = $1", id)
            .fetch_optional(pool)
            .await?
            .flatten(),
    )
}
