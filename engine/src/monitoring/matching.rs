//! Matching one face: the index proposes the nearest stored photos, the database says which of
//! them are active dossiers in active watch lists now (and with which thresholds), and the
//! exact distance decides. The best dossier whose confidence reaches its list's threshold (or
//! the installation's `FACE_THRESHOLD` where the list sets none) is the match.

use super::Monitoring;
use crate::error::Result;
use face_engine::{confidence, distance};
use std::collections::HashSet;

/// Photos the index proposes per face. Only photos of the same person come near a threshold
/// (two people are ~0.84 apart, one person's photos ~0.4), so the true match is among the
/// first few; the rest is room for neighbours in inactive lists.
pub const CANDIDATES: usize = 32;

/// What a face matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub dossier_id: i64,
    pub dossier_name: String,
    pub photo_id: i64,
    pub watch_list_id: i64,
    pub watch_list_name: String,
    pub confidence: f32,
    /// The list's `acknowledge` and `notify` at the time of the match.
    pub needs_ack: bool,
    pub notify: bool,
}

/// The match of each of `faces` (vectors of the installation's model), or none.
pub async fn best_matches(
    monitoring: &Monitoring,
    faces: &[Vec<f32>],
) -> Result<Vec<Option<Match>>> {
    if faces.is_empty() {
        return Ok(Vec::new());
    }
    let index = &monitoring.index;
    index.ensure_ready().await?;
    index.take_in_committed().await?;
    let nearest = index.nearest(faces.to_vec(), CANDIDATES).await?;
    let mut keys: Vec<i64> = nearest.iter().flatten().map(|n| n.key as i64).collect();
    keys.sort_unstable();
    keys.dedup();
    let rows = sqlx::query!(
        r#"SELECT p.id, p.dossier_id, p.face_vector AS "vector!", d.name, d.active,
                  l.id AS "list?", l.name AS "list_name?", l.active AS "list_active?", l.confidence_threshold,
                  l.acknowledge AS "acknowledge?", l.notify AS "notify?"
           FROM photos p
           JOIN dossiers d ON d.id = p.dossier_id
           LEFT JOIN dossier_watch_lists m ON m.dossier_id = d.id
           LEFT JOIN watch_lists l ON l.id = m.watch_list_id
           WHERE p.id = ANY($1) AND p.face_model = $2 AND p.face_vector IS NOT NULL"#,
        &keys,
        monitoring.faces.model.name
    )
    .fetch_all(&monitoring.pool)
    .await?;
    let present: HashSet<i64> = rows.iter().map(|r| r.id).collect();
    index.forget(
        keys.iter()
            .filter(|k| !present.contains(k))
            .map(|k| *k as u64),
    );
    let default_threshold = monitoring.settings.threshold();
    Ok(faces
        .iter()
        .map(|face| {
            rows.iter()
                .filter(|r| r.active && r.list_active == Some(true))
                .filter_map(|r| {
                    let list = r.list?;
                    if r.vector.len() != face.len() {
                        return None;
                    }
                    let c = confidence(distance(face, &r.vector));
                    let threshold = r.confidence_threshold.unwrap_or(default_threshold);
                    (c >= threshold).then(|| Match {
                        dossier_id: r.dossier_id,
                        dossier_name: r.name.clone(),
                        photo_id: r.id,
                        watch_list_id: list,
                        watch_list_name: r.list_name.clone().unwrap_or_default(),
                        confidence: c,
                        needs_ack: r.acknowledge == Some(true),
                        notify: r.notify == Some(true),
                    })
                })
                // The most confident; equally confident (one dossier in two lists): the list
                // that alerts, then the one that asks for acknowledgement, then the oldest.
                .max_by(|a, b| {
                    a.confidence
                        .total_cmp(&b.confidence)
                        .then(a.notify.cmp(&b.notify))
                        .then(a.needs_ack.cmp(&b.needs_ack))
                        .then(b.watch_list_id.cmp(&a.watch_list_id))
                })
        })
        .collect())
}
