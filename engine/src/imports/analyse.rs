//! A row's photo made ready to store: decoded, its one face found and described, checked
//! against the installation's gate, as an upload's would be; or the reason it is refused, in
//! the report's words. Photos are analysed `workers` at a time, each on the blocking pool.

use crate::error::Error;
use crate::faces::extract::{one_face, OneFace};
use crate::faces::Faces;
use crate::images::{decode, processed, ProcessedImage};
use futures_util::stream::{self, StreamExt};

/// A photo ready to store.
pub struct Analysed {
    pub image: ProcessedImage,
    /// Its face, when the installation has a face engine.
    pub face: Option<OneFace>,
}

/// Analyses each photo (its name for the report, and its bytes), keeping their order.
pub async fn all(
    faces: &Faces,
    workers: usize,
    photos: Vec<(String, Vec<u8>)>,
) -> Vec<Result<Analysed, String>> {
    stream::iter(photos)
        .map(|(name, bytes)| {
            let engine = faces.engine.clone();
            let gate = faces.gate;
            async move {
                tokio::task::spawn_blocking(move || one(engine.as_deref(), &gate, &name, bytes))
                    .await
                    .unwrap_or_else(|_| Err("photos: the face engine failed on it".to_string()))
            }
        })
        .buffered(workers.max(1))
        .collect()
        .await
}

fn one(
    engine: Option<&face_engine::Engine>,
    gate: &crate::faces::gate::EnrolmentGate,
    name: &str,
    bytes: Vec<u8>,
) -> Result<Analysed, String> {
    let decoded = decode(&bytes).map_err(|e| format!("photos: {name:?} {}", e.0.message()))?;
    let face = match engine {
        None => None,
        Some(engine) => Some(one_face(engine, &decoded.picture, Some(gate)).map_err(
            |e| match e {
                Error(domain::Error::Faces { found, .. }) => match found.as_slice() {
                    [] => format!("photos: {name:?} shows no face"),
                    // One face, under the gate: the refusal says what it lacks.
                    [face] => {
                        let pixels = decoded.picture.to_rgb8();
                        let shortfall = gate.shortfall(&pixels, face).unwrap_or_default();
                        format!("photos: {name:?}: {shortfall}")
                    }
                    several => format!(
                        "photos: {name:?} shows {} faces; a dossier's photo shows one",
                        several.len()
                    ),
                },
                other => format!("photos: {name:?}: {}", other.0.message()),
            },
        )?),
    };
    let image =
        processed(bytes, &decoded).map_err(|e| format!("photos: {name:?}: {}", e.0.message()))?;
    Ok(Analysed { image, face })
}
