//! An archive search: the face to look for (an event's own, or the largest in a photo), the
//! scope turned into the scan's terms (a time range and the numbers of the places it covers),
//! the scan on a blocking thread, and the events found as the Events page shows them.

use super::Place;
use crate::error::{Error, Result};
use crate::faces::extract::all_faces;
use crate::images::decode;
use crate::monitoring::partitions::oldest_kept;
use crate::monitoring::{store, Monitoring};
use chrono::{DateTime, Utc};
use domain::monitoring::archive::{Appearance, ArchiveScope, ArchiveSearch};
use domain::monitoring::{SiteFilter, CLOCK_SKEW_SECONDS};
use face_index::archive::Scope;
use std::collections::HashMap;

/// The face to look for.
#[derive(Debug, Clone)]
pub enum Wanted {
    /// The face of this event.
    Event(i64),
    /// The largest face in this photo.
    Photo(Vec<u8>),
    /// A face found in a photo before (how many the photo had).
    Face(Vec<f32>, usize),
}

/// The events within `scope` whose faces resemble the wanted one, the closest first (an
/// event searched with is not among them).
pub async fn search(
    monitoring: &Monitoring,
    wanted: Wanted,
    scope: &ArchiveScope,
) -> Result<ArchiveSearch> {
    let retention = monitoring.settings.retention_days();
    let (from, to) = range(scope, retention);
    let (vector, itself, face_box, faces_in_photo) = match wanted {
        Wanted::Event(id) => {
            let (vector, itself) = event_face(monitoring, id).await?;
            (vector, Some(itself), None, 0)
        }
        Wanted::Photo(image) => {
            let (face_box, vector, n) = photo_face(monitoring, image).await?;
            (vector, None, Some(face_box), n)
        }
        Wanted::Face(vector, n) => (vector, None, None, n),
    };
    let archive = &monitoring.archive;
    archive.refresh(&monitoring.pool, retention).await?;
    let cameras = match &scope.camera {
        Some(name) => Some(cameras_named(monitoring, name).await?),
        None => None,
    };
    let min_confidence = scope
        .min_confidence
        .unwrap_or_else(|| monitoring.settings.threshold());
    let copy = archive.copy();
    let (camera, site, limit) = (scope.camera.clone(), scope.site, scope.limit);
    let found = tokio::task::spawn_blocking(move || {
        let copy = copy.read().unwrap_or_else(|e| e.into_inner());
        let tags = (camera.is_some() || site.is_some()).then(|| {
            copy.places
                .matching(|p| covers(p, camera.as_deref(), cameras.as_deref()) && in_site(p, site))
        });
        let scan = Scope {
            from: from.timestamp(),
            until: to.timestamp() + 1,
            tags,
        };
        let max = face_engine::distance_for(min_confidence.max(1e-6));
        // One more than asked: the event searched with finds itself.
        copy.faces.search(&vector, &scan, max, limit + 1)
    })
    .await
    .map_err(|_| Error::internal())?
    .map_err(|e| {
        tracing::error!(error = %e, "an archive search failed");
        Error::internal()
    })?;
    let ranked: Vec<(i64, f32)> = found
        .neighbours
        .iter()
        .map(|n| (n.key as i64, n.distance))
        .filter(|(id, _)| Some(*id) != itself)
        .take(limit)
        .collect();
    let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
    let mut events: HashMap<i64, _> = store::by_ids(&monitoring.pool, &ids)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    Ok(ArchiveSearch {
        appearances: ranked
            .into_iter()
            .filter_map(|(id, distance)| {
                Some(Appearance {
                    event: events.remove(&id)?,
                    confidence: face_engine::confidence(distance),
                })
            })
            .collect(),
        compared: found.compared as u64,
        from,
        to,
        min_confidence,
        face_box,
        faces_in_photo,
    })
}

/// The range searched: as asked, else from the oldest day kept until now.
fn range(scope: &ArchiveScope, retention_days: i32) -> (DateTime<Utc>, DateTime<Utc>) {
    let oldest = oldest_kept(retention_days)
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let from = scope.from.unwrap_or(oldest).max(oldest);
    let to = scope
        .to
        .unwrap_or_else(|| Utc::now() + chrono::Duration::seconds(CLOCK_SKEW_SECONDS));
    (from, to)
}

/// Whether a place is the camera asked for: posted with its name, or from the installation's
/// camera called that now.
fn covers(place: &Place, name: Option<&str>, ids: Option<&[i64]>) -> bool {
    let Some(name) = name else { return true };
    place.camera == name
        || place
            .camera_id
            .is_some_and(|id| ids.unwrap_or_default().contains(&id))
}

fn in_site(place: &Place, site: Option<SiteFilter>) -> bool {
    match site {
        None => true,
        Some(SiteFilter::Here) => place.site_id.is_none(),
        Some(SiteFilter::Site(id)) => place.site_id == Some(id),
    }
}

/// The installation's cameras called `name`.
async fn cameras_named(monitoring: &Monitoring, name: &str) -> Result<Vec<i64>> {
    Ok(
        sqlx::query_scalar!("SELECT id FROM cameras WHERE name = $1", name)
            .fetch_all(&monitoring.pool)
            .await?,
    )
}

/// The face event `id` kept, and the event's id.
async fn event_face(monitoring: &Monitoring, id: i64) -> Result<(Vec<f32>, i64)> {
    let row = sqlx::query!("SELECT face_code FROM events WHERE id = $1", id)
        .fetch_optional(&monitoring.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("event {id} does not exist")))?;
    let code = row.face_code.ok_or_else(|| {
        Error::invalid(
            "event",
            format!("event {id} kept no face vector to search with (it was made before events kept them)"),
        )
    })?;
    if code.len() != monitoring.faces.model.vector_length {
        return Err(Error::invalid(
            "event",
            format!("event {id}'s face is of another face model than this installation's"),
        ));
    }
    let code: Vec<i8> = code.into_iter().map(|b| b as i8).collect();
    Ok((face_index::archive::decode(&code), id))
}

/// The largest face of the photo: where it is, its vector, and how many faces there were.
pub async fn photo_face(
    monitoring: &Monitoring,
    image: Vec<u8>,
) -> Result<(domain::faces::FaceBox, Vec<f32>, usize)> {
    let engine = monitoring.faces.engine.clone().ok_or_else(|| {
        Error::forbidden(format!(
            "this installation has no face engine (FACE_MODEL is {:?}); search from an event instead",
            monitoring.faces.model.name
        ))
    })?;
    tokio::task::spawn_blocking(move || {
        let decoded = decode(&image)?;
        let pixels = decoded.picture.to_rgb8();
        let faces = all_faces(&engine, &pixels);
        let n = faces.len();
        let largest = faces
            .into_iter()
            .max_by_key(|(b, _)| u64::from(b.width) * u64::from(b.height));
        match largest {
            Some((bounds, vector)) => Ok((bounds, vector, n)),
            None => Err(domain::Error::Faces {
                message: "no face was found in the photo".into(),
                found: Vec::new(),
                width: pixels.width(),
                height: pixels.height(),
            }
            .into()),
        }
    })
    .await
    .map_err(|_| Error::internal())?
}
