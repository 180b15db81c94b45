//! Search by photo: every face of the photo compared with every stored vector of the
//! installation's model (an exact scan; the monitoring index replaces it), the best dossiers of
//! each face with their lists.

use super::extract::all_faces;
use super::Faces;
use crate::error::{Error, Result};
use crate::images::{decode, jpeg_within};
use domain::faces::{FaceBox, FaceMatch, FaceSearchResult, FoundFace, MAX_MATCHES};
use face_engine::{confidence, distance, distance_for};
use std::collections::HashMap;

/// What to search among, and how close a match must be.
#[derive(Debug, Clone)]
pub struct SearchFilter {
    /// Only dossiers in this watch list.
    pub watch_list: Option<i64>,
    /// Only matches at least this confident (0–1).
    pub min_confidence: f32,
    /// At most this many dossiers per face.
    pub matches: usize,
}

/// Vectors compared per round trip: 20 000 rows of 128 floats are 10 MB.
const SCAN_BATCH: i64 = 20_000;

/// Longest side of the photo as the results page shows it.
const PREVIEW_SIDE: u32 = 512;

/// The faces of `image` and the dossiers each resembles; with `preview`, also the photo scaled
/// down (a JPEG) for the results page to draw the faces on.
pub async fn search(
    own: &Faces,
    image: Vec<u8>,
    filter: &SearchFilter,
    preview: bool,
) -> Result<(FaceSearchResult, Option<Vec<u8>>)> {
    if !(0.0..=1.0).contains(&filter.min_confidence) {
        return Err(Error::invalid("min_confidence", "must be between 0 and 1"));
    }
    if filter.matches == 0 || filter.matches > MAX_MATCHES {
        return Err(Error::invalid(
            "matches",
            format!("must be from 1 to {MAX_MATCHES}"),
        ));
    }
    if let Some(list) = filter.watch_list {
        let exists = sqlx::query_scalar!("SELECT id FROM watch_lists WHERE id = $1", list)
            .fetch_optional(&own.pool)
            .await?;
        if exists.is_none() {
            return Err(Error::invalid(
                "watch_list",
                format!("watch list {list} does not exist"),
            ));
        }
    }
    let engine = own.engine.clone().ok_or_else(|| {
        Error::forbidden(format!(
            "this installation has no face engine (FACE_MODEL is {:?}; the built-in engine is {:?})",
            own.model.name,
            face_engine::MODEL_NAME
        ))
    })?;
    let (width, height, found, preview) = tokio::task::spawn_blocking(move || {
        let decoded = decode(&image)?;
        let pixels = decoded.picture.to_rgb8();
        let preview = preview
            .then(|| jpeg_within(&decoded.picture, PREVIEW_SIDE))
            .transpose()?;
        let faces = all_faces(&engine, &pixels);
        Ok::<_, Error>((pixels.width(), pixels.height(), faces, preview))
    })
    .await
    .map_err(|_| Error::internal())??;

    let (best, compared) = scan(own, &found, filter).await?;
    let found = describe_matches(own, found.iter().map(|f| f.0).collect(), best).await?;
    Ok((
        FaceSearchResult {
            width,
            height,
            faces: found,
            compared,
        },
        preview,
    ))
}

/// Per face, the closest photo of each dossier within the filter's distance: (dossier, photo,
/// distance). Keyset pages of vectors, each compared on the blocking pool.
async fn scan(
    own: &Faces,
    faces: &[(FaceBox, Vec<f32>)],
    filter: &SearchFilter,
) -> Result<(Vec<HashMap<i64, (i64, f32)>>, i64)> {
    let mut best: Vec<HashMap<i64, (i64, f32)>> = vec![HashMap::new(); faces.len()];
    if faces.is_empty() {
        return Ok((best, 0));
    }
    let limit = distance_for(filter.min_confidence.max(1e-6));
    let vectors: std::sync::Arc<Vec<Vec<f32>>> =
        std::sync::Arc::new(faces.iter().map(|f| f.1.clone()).collect());
    let (mut after, mut compared) = (0_i64, 0_i64);
    loop {
        let rows = sqlx::query!(
            r#"SELECT p.id, p.dossier_id, p.face_vector AS "vector!"
               FROM photos p
               WHERE p.id > $1 AND p.face_model = $2 AND p.face_vector IS NOT NULL
                 AND ($3::bigint IS NULL OR EXISTS (
                       SELECT 1 FROM dossier_watch_lists m
                       WHERE m.dossier_id = p.dossier_id AND m.watch_list_id = $3))
               ORDER BY p.id LIMIT $4"#,
            after,
            own.model.name,
            filter.watch_list,
            SCAN_BATCH
        )
        .fetch_all(&own.pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        compared += rows.len() as i64;
        let full = rows.len() as i64 == SCAN_BATCH;
        let vectors = vectors.clone();
        let page = tokio::task::spawn_blocking(move || {
            let mut close = Vec::new();
            for r in &rows {
                for (face, v) in vectors.iter().enumerate() {
                    if r.vector.len() == v.len() {
                        let d = distance(v, &r.vector);
                        if d <= limit {
                            close.push((face, r.dossier_id, r.id, d));
                        }
                    }
                }
            }
            close
        })
        .await
        .map_err(|_| Error::internal())?;
        for (face, dossier, photo, d) in page {
            let entry = best[face].entry(dossier).or_insert((photo, d));
            if d < entry.1 {
                *entry = (photo, d);
            }
        }
        if !full {
            break;
        }
    }
    // Only the best `matches` per face are described.
    for per_face in &mut best {
        let mut ranked: Vec<(i64, (i64, f32))> = per_face.drain().collect();
        // Equally close (the same picture in two dossiers): the newest dossier first.
        ranked.sort_by(|a, b| a.1 .1.total_cmp(&b.1 .1).then(b.0.cmp(&a.0)));
        ranked.truncate(filter.matches);
        per_face.extend(ranked);
    }
    Ok((best, compared))
}

/// The matches of every face with their dossiers' names, lists and photos, in one query each.
async fn describe_matches(
    own: &Faces,
    boxes: Vec<FaceBox>,
    best: Vec<HashMap<i64, (i64, f32)>>,
) -> Result<Vec<FoundFace>> {
    let mut dossiers: Vec<i64> = best.iter().flat_map(|m| m.keys().copied()).collect();
    dossiers.sort_unstable();
    dossiers.dedup();
    let photos: Vec<i64> = best.iter().flat_map(|m| m.values().map(|v| v.0)).collect();
    let rows = sqlx::query!(
        r#"SELECT d.id, d.name, d.active,
                  coalesce(array_agg(w.name ORDER BY w.name) FILTER (WHERE w.id IS NOT NULL), '{}')
                      AS "lists!"
           FROM dossiers d
           LEFT JOIN dossier_watch_lists m ON m.dossier_id = d.id
           LEFT JOIN watch_lists w ON w.id = m.watch_list_id
           WHERE d.id = ANY($1) GROUP BY d.id"#,
        &dossiers
    )
    .fetch_all(&own.pool)
    .await?;
    let about: HashMap<i64, _> = rows.into_iter().map(|r| (r.id, r)).collect();
    let images: HashMap<i64, String> = sqlx::query!(
        r#"SELECT id, encode(image_sha256, 'hex') AS "sha256!" FROM photos WHERE id = ANY($1)"#,
        &photos
    )
    .fetch_all(&own.pool)
    .await?
    .into_iter()
    .map(|r| (r.id, r.sha256))
    .collect();
    Ok(boxes
        .into_iter()
        .zip(best)
        .map(|(bounds, per_face)| {
            // A dossier or photo deleted since the scan is left out.
            let mut matches: Vec<FaceMatch> = per_face
                .into_iter()
                .filter_map(|(dossier, (photo, d))| {
                    let about = about.get(&dossier)?;
                    Some(FaceMatch {
                        dossier_id: dossier,
                        name: about.name.clone(),
                        active: about.active,
                        lists: about.lists.clone(),
                        photo_id: photo,
                        photo_sha256: images.get(&photo)?.clone(),
                        confidence: confidence(d),
                    })
                })
                .collect();
            matches.sort_by(|a, b| {
                b.confidence
                    .total_cmp(&a.confidence)
                    .then(b.dossier_id.cmp(&a.dossier_id))
            });
            FoundFace { bounds, matches }
        })
        .collect())
}
