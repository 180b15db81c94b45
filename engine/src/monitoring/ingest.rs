//! What a camera posts, checked, matched and recorded: a photo (every face in it becomes an
//! event) or ready vectors of the installation's model. Nothing is stored unless all of it is
//! valid; the events and their webhook deliveries are written in one transaction. An event
//! whose camera name is one of the installation's cameras points at that camera.

use super::archive::face_code;
use super::matching::{best_matches, Match};
use super::webhooks::store::{enqueue, Outgoing};
use super::Monitoring;
use super::{live::LiveEvent, partitions::oldest_kept};
use crate::error::{Error, Result};
use crate::faces::extract::{all_faces, face_thumbnail};
use crate::faces::Misfit;
use crate::images::decode;
use chrono::{DateTime, Utc};
use domain::faces::FaceBox;
use domain::monitoring::webhooks::{Payload, PayloadEvent, PayloadRef};
use domain::monitoring::{check_camera, CLOCK_SKEW_SECONDS};
use serde::{Deserialize, Serialize};

/// The most faces one post may carry.
pub const MAX_FACES: usize = 64;

/// A post as received, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub camera: Option<String>,
    pub captured_at: Option<String>,
    pub image: Option<Vec<u8>>,
    pub model: Option<String>,
    pub vectors: Option<Vec<Vec<f32>>>,
}

/// What was recorded: one event per face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ingested {
    pub events: Vec<IngestedEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestedEvent {
    pub id: i64,
    pub captured_at: DateTime<Utc>,
    pub face_box: Option<FaceBox>,
    pub matched: Option<IngestedMatch>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestedMatch {
    pub dossier_id: i64,
    pub dossier_name: String,
    pub watch_list_id: i64,
    pub confidence: f32,
}

/// The faces of a post: their vectors, and for a photo where they are and their crops.
struct Faces {
    vectors: Vec<Vec<f32>>,
    boxes: Vec<Option<FaceBox>>,
    crops: Vec<Option<Vec<u8>>>,
}

/// Checks, matches and records a post.
pub async fn ingest(monitoring: &Monitoring, post: Submission) -> Result<Ingested> {
    let camera = check_camera(post.camera.as_deref().unwrap_or_default())?;
    let captured_at = captured_at(
        post.captured_at.as_deref(),
        monitoring.settings.retention_days(),
    )?;
    let faces = match (post.image, post.vectors) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "vectors",
                "send either a photo (image) or vectors, not both",
            ))
        }
        (None, None) => {
            return Err(Error::invalid(
                "image",
                "is required: send a photo (image), or vectors with their model",
            ))
        }
        (Some(image), None) => photo_faces(monitoring, image).await?,
        (None, Some(vectors)) => vector_faces(monitoring, post.model.as_deref(), vectors)?,
    };
    let matches = best_matches(monitoring, &faces.vectors).await?;
    monitoring
        .days
        .ensure(&monitoring.pool, captured_at)
        .await?;
    record(monitoring, &camera, captured_at, faces, matches).await
}

fn captured_at(text: Option<&str>, retention_days: i32) -> Result<DateTime<Utc>> {
    let now = Utc::now();
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(now);
    };
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| {
            Error::invalid(
                "captured_at",
                format!("{text:?} is not an RFC 3339 time such as 2026-11-24T08:00:00Z"),
            )
        })?
        .with_timezone(&Utc);
    if at > now + chrono::Duration::seconds(CLOCK_SKEW_SECONDS) {
        return Err(Error::invalid(
            "captured_at",
            format!(
                "{text} is in the future (the server's time is {})",
                now.to_rfc3339()
            ),
        ));
    }
    let oldest = oldest_kept(retention_days);
    if at.date_naive() < oldest {
        return Err(Error::invalid(
            "captured_at",
            format!(
                "{text} is older than the events this installation keeps ({retention_days} days)"
            ),
        ));
    }
    Ok(at)
}

/// Every face of the photo, found by the installation's engine.
async fn photo_faces(monitoring: &Monitoring, image: Vec<u8>) -> Result<Faces> {
    let engine = monitoring.faces.engine.clone().ok_or_else(|| {
        Error::invalid(
            "image",
            format!(
                "this installation has no face engine (FACE_MODEL is {:?}); post vectors of that model instead",
                monitoring.faces.model.name
            ),
        )
    })?;
    tokio::task::spawn_blocking(move || {
        let decoded = decode(&image)?;
        let pixels = decoded.picture.to_rgb8();
        let found = all_faces(&engine, &pixels);
        if found.is_empty() {
            return Err(domain::Error::Faces {
                message: "no face was found in the photo; nothing was stored".into(),
                found: Vec::new(),
                width: pixels.width(),
                height: pixels.height(),
            }
            .into());
        }
        if found.len() > MAX_FACES {
            return Err(Error::invalid(
                "image",
                format!(
                    "{} faces were found; one post may carry at most {MAX_FACES}",
                    found.len()
                ),
            ));
        }
        let mut faces = Faces {
            vectors: Vec::new(),
            boxes: Vec::new(),
            crops: Vec::new(),
        };
        for (bounds, vector) in found {
            faces
                .crops
                .push(Some(face_thumbnail(&decoded.picture, &bounds)?));
            faces.boxes.push(Some(bounds));
            faces.vectors.push(vector);
        }
        Ok(faces)
    })
    .await
    .map_err(|_| Error::internal())?
}

/// Vectors made elsewhere: only of this installation's model, of its length, finite.
fn vector_faces(
    monitoring: &Monitoring,
    named: Option<&str>,
    vectors: Vec<Vec<f32>>,
) -> Result<Faces> {
    let model = &monitoring.faces.model;
    model.accept(named)?;
    if vectors.is_empty() || vectors.len() > MAX_FACES {
        return Err(Error::invalid(
            "vectors",
            format!("must hold 1 to {MAX_FACES} vectors"),
        ));
    }
    for (i, v) in vectors.iter().enumerate() {
        match model.misfit(v) {
            Some(Misfit::Length(got)) => {
                return Err(Error::invalid(
                    "vectors",
                    format!(
                        "vector {} has {got} numbers; vectors of {:?} have {}",
                        i + 1,
                        model.name,
                        model.vector_length
                    ),
                ))
            }
            Some(Misfit::NotFinite) => {
                return Err(Error::invalid(
                    "vectors",
                    format!("vector {} holds a number that is not finite", i + 1),
                ))
            }
            None => {}
        }
    }
    let n = vectors.len();
    Ok(Faces {
        vectors,
        boxes: vec![None; n],
        crops: vec![None; n],
    })
}

/// The events and their deliveries, in one transaction; then the live pages and the webhook
/// sender are told.
async fn record(
    monitoring: &Monitoring,
    camera: &str,
    captured_at: DateTime<Utc>,
    faces: Faces,
    matches: Vec<Option<Match>>,
) -> Result<Ingested> {
    let n = faces.vectors.len();
    let mut tx = monitoring.pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar!(
        r#"SELECT nextval('events_id_seq') AS "id!" FROM generate_series(1, $1::int)"#,
        n as i32
    )
    .fetch_all(&mut *tx)
    .await?;
    let column = |f: &dyn Fn(&Match) -> Option<i64>| -> Vec<Option<i64>> {
        matches.iter().map(|m| m.as_ref().and_then(f)).collect()
    };
    let dossiers = column(&|m| Some(m.dossier_id));
    let photos = column(&|m| Some(m.photo_id));
    let lists = column(&|m| Some(m.watch_list_id));
    let names: Vec<Option<String>> = matches
        .iter()
        .map(|m| m.as_ref().map(|m| m.dossier_name.clone()))
        .collect();
    let confidences: Vec<Option<f32>> = matches
        .iter()
        .map(|m| m.as_ref().map(|m| m.confidence))
        .collect();
    let needs_ack: Vec<bool> = matches
        .iter()
        .map(|m| m.as_ref().is_some_and(|m| m.needs_ack))
        .collect();
    let codes: Vec<Vec<u8>> = faces.vectors.iter().map(|v| face_code(v)).collect();
    // Boxes travel as "l,t,w,h" text: PostgreSQL's unnest cannot take an array of arrays of
    // different nullness.
    let boxes: Vec<Option<String>> = faces
        .boxes
        .iter()
        .map(|b| b.map(|b| b.to_array().map(|v| v.to_string()).join(",")))
        .collect();
    sqlx::query!(
        "INSERT INTO events (id, captured_at, camera, camera_id, face_box, face_jpeg, dossier_id,
                             dossier_name, photo_id, watch_list_id, confidence, needs_ack,
                             face_code)
         SELECT e.id, $2, $3, (SELECT c.id FROM cameras c WHERE c.name = $3),
                string_to_array(e.box, ',')::int[], e.jpeg, e.dossier, e.name,
                e.photo, e.list, e.confidence, e.ack, e.code
         FROM unnest($1::bigint[], $4::text[], $5::bytea[], $6::bigint[], $7::text[], $8::bigint[],
                     $9::bigint[], $10::real[], $11::bool[], $12::bytea[])
              AS e(id, box, jpeg, dossier, name, photo, list, confidence, ack, code)",
        &ids,
        captured_at,
        camera,
        &boxes as &[Option<String>],
        &faces.crops as &[Option<Vec<u8>>],
        &dossiers as &[Option<i64>],
        &names as &[Option<String>],
        &photos as &[Option<i64>],
        &lists as &[Option<i64>],
        &confidences as &[Option<f32>],
        &needs_ack,
        &codes
    )
    .execute(&mut *tx)
    .await?;
    // Matches of lists that alert, and the unknown faces (for webhooks that ask for those of
    // this camera).
    let outgoing: Vec<Outgoing> = ids
        .iter()
        .zip(&matches)
        .zip(&faces.crops)
        .filter_map(|((id, m), crop)| {
            let (id, has_face) = (*id, crop.is_some());
            let (payload, matched) = match m {
                Some(m) if m.notify => (
                    payload(monitoring, id, captured_at, camera, m, has_face),
                    Some((m.watch_list_id, m.confidence)),
                ),
                Some(_) => return None,
                None => (
                    unknown_payload(monitoring, id, captured_at, camera, has_face),
                    None,
                ),
            };
            Some(Outgoing {
                payload,
                camera: camera.to_string(),
                matched,
            })
        })
        .collect();
    let deliveries = enqueue(&mut tx, &outgoing).await?;
    tx.commit().await?;
    if deliveries > 0 {
        monitoring.deliveries.notify_one();
    }
    if matches.iter().any(Option::is_some) {
        monitoring.hits.notify_one();
    }
    for (id, m) in ids.iter().zip(&matches) {
        monitoring.live.publish(LiveEvent {
            id: *id,
            camera: camera.to_string(),
            dossier_name: m.as_ref().map(|m| m.dossier_name.clone()),
            watch_list_id: m.as_ref().map(|m| m.watch_list_id),
            confidence: m.as_ref().map(|m| m.confidence),
            needs_ack: m.as_ref().is_some_and(|m| m.needs_ack),
            notify: m.as_ref().is_some_and(|m| m.notify),
        });
    }
    Ok(Ingested {
        events: ids
            .into_iter()
            .zip(matches)
            .zip(faces.boxes)
            .map(|((id, m), face_box)| IngestedEvent {
                id,
                captured_at,
                face_box,
                matched: m.map(|m| IngestedMatch {
                    dossier_id: m.dossier_id,
                    dossier_name: m.dossier_name,
                    watch_list_id: m.watch_list_id,
                    confidence: m.confidence,
                }),
            })
            .collect(),
    })
}

/// The webhook body of a face nobody on the lists resembles.
pub(super) fn unknown_payload(
    monitoring: &Monitoring,
    id: i64,
    captured_at: DateTime<Utc>,
    camera: &str,
    has_face: bool,
) -> Payload {
    Payload {
        kind: "face.unknown".into(),
        installation: monitoring.site_name.to_string(),
        event: PayloadEvent {
            id,
            captured_at: captured_at.to_rfc3339(),
            camera: camera.to_string(),
            confidence: None,
            dossier: None,
            watch_list: None,
            needs_ack: false,
            face: has_face.then(|| format!("/events/{id}/face")),
        },
    }
}

/// The webhook body of a matched event.
pub(super) fn payload(
    monitoring: &Monitoring,
    id: i64,
    captured_at: DateTime<Utc>,
    camera: &str,
    m: &Match,
    has_face: bool,
) -> Payload {
    Payload {
        kind: "face.matched".into(),
        installation: monitoring.site_name.to_string(),
        event: PayloadEvent {
            id,
            captured_at: captured_at.to_rfc3339(),
            camera: camera.to_string(),
            confidence: Some(m.confidence),
            dossier: Some(PayloadRef {
                id: m.dossier_id,
                name: m.dossier_name.clone(),
            }),
            watch_list: Some(PayloadRef {
                id: m.watch_list_id,
                name: m.watch_list_name.clone(),
            }),
            needs_ack: m.needs_ack,
            face: has_face.then(|| format!("/events/{id}/face")),
        },
    }
}
