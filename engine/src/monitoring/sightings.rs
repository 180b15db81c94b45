//! A video worker's tracks made events: one event per track, made as soon as a shot of it
//! matches a dossier, else when the track ends (an unmatched person is an event too, once);
//! every later shot updates that event (the last time the person was seen, a better picture,
//! a more confident match) instead of adding one. A track is its event's key (its id and its
//! first time: `events_track`), so a sighting posted twice changes nothing twice, and the
//! webhooks and live pages hear of a match once, when the event first matches that dossier.

use super::archive::face_code;
use super::ingest::{payload, unknown_payload};
use super::live::LiveEvent;
use super::matching::best_matches;
use super::webhooks::store::{enqueue, Outgoing};
use super::Monitoring;
use crate::error::{Error, Result};
use crate::faces::Misfit;
use domain::cameras::{Sighting, SightingOutcome};
use domain::monitoring::CLOCK_SKEW_SECONDS;

/// The largest picture a sighting may carry.
const MAX_JPEG: usize = 1 << 20;

/// Checks a sighting, matches its best shot and makes or updates its track's event.
pub async fn record(monitoring: &Monitoring, sighting: &Sighting) -> Result<SightingOutcome> {
    let vector = check(monitoring, sighting)?;
    let camera = sqlx::query_scalar!("SELECT name FROM cameras WHERE id = $1", sighting.camera)
        .fetch_optional(&monitoring.pool)
        .await?
        .ok_or_else(|| crate::cameras::not_found(sighting.camera))?;
    let code = face_code(&vector);
    let matched = best_matches(monitoring, &[vector]).await?.pop().flatten();
    let captured_at = sighting.first_at;
    // An unmatched shot of a track still under way makes no event; it updates one that is.
    let make = matched.is_some() || sighting.ended;
    if make {
        monitoring
            .days
            .ensure(&monitoring.pool, captured_at)
            .await?;
    }
    let shot = &sighting.shot;
    let face_box = shot.face_box.to_array().to_vec();
    let m = matched.as_ref();
    let mut tx = monitoring.pool.begin().await?;
    let row = sqlx::query!(
        r#"WITH old AS (SELECT dossier_id FROM events WHERE track = $1 AND captured_at = $2),
           made AS (
               INSERT INTO events (captured_at, camera, camera_id, track, last_seen_at, quality,
                                   face_box, face_jpeg, frame_jpeg, dossier_id, dossier_name,
                                   photo_id, watch_list_id, confidence, needs_ack, face_code)
               SELECT $2, $3, $4, $1, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $17
               WHERE $16 OR EXISTS (SELECT 1 FROM old)
               ON CONFLICT (track, captured_at) WHERE track IS NOT NULL DO UPDATE SET
                   last_seen_at = greatest(events.last_seen_at, EXCLUDED.last_seen_at),
                   quality = greatest(events.quality, EXCLUDED.quality),
                   face_box = CASE WHEN EXCLUDED.quality > events.quality
                                   THEN EXCLUDED.face_box ELSE events.face_box END,
                   face_jpeg = CASE WHEN EXCLUDED.quality > events.quality
                                    THEN EXCLUDED.face_jpeg ELSE events.face_jpeg END,
                   frame_jpeg = CASE WHEN EXCLUDED.quality > events.quality
                                     THEN EXCLUDED.frame_jpeg ELSE events.frame_jpeg END,
                   face_code = CASE WHEN EXCLUDED.quality > events.quality
                                    THEN EXCLUDED.face_code ELSE events.face_code END,
                   coded_xid = pg_current_xact_id(),
                   dossier_id = CASE WHEN EXCLUDED.confidence > coalesce(events.confidence, -1)
                                     THEN EXCLUDED.dossier_id ELSE events.dossier_id END,
                   dossier_name = CASE WHEN EXCLUDED.confidence > coalesce(events.confidence, -1)
                                       THEN EXCLUDED.dossier_name ELSE events.dossier_name END,
                   photo_id = CASE WHEN EXCLUDED.confidence > coalesce(events.confidence, -1)
                                   THEN EXCLUDED.photo_id ELSE events.photo_id END,
                   watch_list_id = CASE WHEN EXCLUDED.confidence > coalesce(events.confidence, -1)
                                        THEN EXCLUDED.watch_list_id ELSE events.watch_list_id END,
                   needs_ack = CASE WHEN EXCLUDED.confidence > coalesce(events.confidence, -1)
                                    THEN EXCLUDED.needs_ack ELSE events.needs_ack END,
                   confidence = greatest(events.confidence, EXCLUDED.confidence)
               RETURNING id, dossier_id)
           SELECT made.id AS "id!", made.dossier_id,
                  EXISTS (SELECT 1 FROM old) AS "existed!",
                  (SELECT dossier_id FROM old) AS was
           FROM made"#,
        sighting.track,
        captured_at,
        camera,
        sighting.camera,
        sighting.last_at,
        shot.quality,
        &face_box,
        shot.face_jpeg,
        shot.frame_jpeg,
        m.map(|m| m.dossier_id),
        m.map(|m| m.dossier_name.clone()),
        m.map(|m| m.photo_id),
        m.map(|m| m.watch_list_id),
        m.map(|m| m.confidence),
        m.is_some_and(|m| m.needs_ack),
        make,
        code
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(SightingOutcome {
            event: None,
            matched: false,
        });
    };
    // The event matches a dossier it did not match before: that is news.
    let news = matched
        .as_ref()
        .filter(|m| row.dossier_id == Some(m.dossier_id) && row.was != Some(m.dossier_id));
    let mut deliveries = 0;
    if let Some(m) = news.filter(|m| m.notify) {
        let outgoing = Outgoing {
            payload: payload(monitoring, row.id, captured_at, &camera, m, true),
            camera: camera.clone(),
            matched: Some((m.watch_list_id, m.confidence)),
        };
        deliveries = enqueue(&mut tx, &[outgoing]).await?;
    } else if !row.existed && row.dossier_id.is_none() {
        // A person nobody on the lists resembles, seen to the end of their track: an unknown
        // face, for the webhooks that ask for those of this camera.
        let outgoing = Outgoing {
            payload: unknown_payload(monitoring, row.id, captured_at, &camera, true),
            camera: camera.clone(),
            matched: None,
        };
        deliveries = enqueue(&mut tx, &[outgoing]).await?;
    }
    tx.commit().await?;
    if deliveries > 0 {
        monitoring.deliveries.notify_one();
    }
    if row.dossier_id.is_some() {
        monitoring.hits.notify_one();
    }
    if !row.existed || news.is_some() {
        monitoring.live.publish(LiveEvent {
            id: row.id,
            camera,
            dossier_name: news.map(|m| m.dossier_name.clone()),
            watch_list_id: news.map(|m| m.watch_list_id),
            confidence: news.map(|m| m.confidence),
            needs_ack: news.is_some_and(|m| m.needs_ack),
            notify: news.is_some_and(|m| m.notify),
        });
    }
    Ok(SightingOutcome {
        event: Some(row.id),
        matched: row.dossier_id.is_some(),
    })
}

/// The sighting's fields, checked; its vector.
fn check(monitoring: &Monitoring, s: &Sighting) -> Result<Vec<f32>> {
    let track = s.track.trim();
    if track.is_empty() || track.len() > 64 || track.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            "track",
            "must be 1 to 64 characters, no control characters",
        ));
    }
    if s.last_at < s.first_at {
        return Err(Error::invalid("last_at", "is before first_at"));
    }
    if s.last_at > chrono::Utc::now() + chrono::Duration::seconds(CLOCK_SKEW_SECONDS) {
        return Err(Error::invalid(
            "last_at",
            "is in the future (check the worker's clock)",
        ));
    }
    let shot = &s.shot;
    if !(0.0..=1.0).contains(&shot.quality) {
        return Err(Error::invalid("shot.quality", "must be from 0 to 1"));
    }
    for (field, jpeg) in [
        ("shot.face_jpeg", &shot.face_jpeg),
        ("shot.frame_jpeg", &shot.frame_jpeg),
    ] {
        if jpeg.len() > MAX_JPEG || !jpeg.starts_with(&[0xFF, 0xD8]) {
            return Err(Error::invalid(
                field,
                format!("must be a JPEG of at most {MAX_JPEG} bytes"),
            ));
        }
    }
    let model = &monitoring.faces.model;
    model.accept(Some(&shot.model))?;
    let vector = shot
        .floats()
        .ok_or_else(|| Error::invalid("shot.vector", "is not a whole number of floats"))?;
    match model.misfit(&vector) {
        Some(Misfit::Length(n)) => Err(Error::invalid(
            "shot.vector",
            format!(
                "has {n} numbers; vectors of {:?} have {}",
                model.name, model.vector_length
            ),
        )),
        Some(Misfit::NotFinite) => Err(Error::invalid(
            "shot.vector",
            "holds a number that is not finite",
        )),
        None => Ok(vector),
    }
}
