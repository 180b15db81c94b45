//! Photos: a dossier's pictures, each of one face, the image stored once per content hash
//! (`images`), and optionally that face's feature vector from the installation's model.

pub mod store;

use crate::error::{Error, Result};
use crate::faces::extract::{one_face, OneFace};
use crate::faces::gate::EnrolmentGate;
use crate::faces::{FaceModel, Misfit};
use crate::images::{decode, processed, ProcessedImage};
use domain::photos::UploadFields;
use face_engine::Engine;
use std::sync::Arc;

/// A photo upload, read and checked, not yet stored.
pub struct NewPhoto {
    pub dossier_id: i64,
    pub image: ProcessedImage,
    pub vector: Option<(Vec<f32>, String)>,
    /// The face the engine found, when it looked (its vector is `vector`).
    pub face: Option<(domain::faces::FaceBox, Vec<u8>)>,
}

impl NewPhoto {
    /// Checks the fields and decodes the image, on the blocking pool. With a face engine and
    /// no vector sent, the photo must show exactly one face, whose vector is computed, and
    /// that face must pass `gate` unless the upload says `force`; a vector sent with the photo
    /// (an external extractor's, of this installation's model) is kept.
    pub async fn parse(
        fields: UploadFields,
        model: &FaceModel,
        engine: Option<&Arc<Engine>>,
        gate: &EnrolmentGate,
    ) -> Result<Self> {
        let force = match fields.extra.get("force").map(|f| f.trim()) {
            None | Some("" | "false" | "off" | "0" | "no") => false,
            Some("true" | "on" | "1" | "yes") => true,
            Some(other) => {
                return Err(Error::invalid(
                    "force",
                    format!("must be true or false, got {other:?}"),
                ))
            }
        };
        let gate = (!force).then_some(*gate);
        let dossier_id = fields
            .dossier_id
            .as_deref()
            .map(str::trim)
            .ok_or_else(|| Error::invalid("dossier_id", "is required"))?
            .parse::<i64>()
            .map_err(|_| Error::invalid("dossier_id", "must be a dossier id (a number)"))?;
        let image = fields
            .image
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::invalid("image", "choose an image file"))?;
        let vector = match fields
            .vector
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            Some(v) => Some(parse_vector(v, fields.model.as_deref(), model)?),
            None => None,
        };
        let engine = engine.filter(|_| vector.is_none()).cloned();
        let (image, face) = tokio::task::spawn_blocking(move || {
            let decoded = decode(&image)?;
            let face = engine
                .map(|engine| one_face(&engine, &decoded.picture, gate.as_ref()))
                .transpose()?;
            Ok::<_, Error>((processed(image, &decoded)?, face))
        })
        .await
        .map_err(|_| Error::internal())??;
        let (vector, face) = match face {
            Some(OneFace {
                bounds,
                vector,
                thumbnail,
            }) => (
                Some((vector, model.name.clone())),
                Some((bounds, thumbnail)),
            ),
            None => (vector, None),
        };
        Ok(Self {
            dossier_id,
            image,
            vector,
            face,
        })
    }
}

/// Parses and checks a face vector against the installation's model.
pub fn parse_vector(
    vector: &str,
    named: Option<&str>,
    model: &FaceModel,
) -> Result<(Vec<f32>, String)> {
    let values: Vec<f32> = serde_json::from_str(vector)
        .map_err(|e| Error::invalid("vector", format!("must be a JSON array of numbers: {e}")))?;
    let named = model.accept(named)?;
    match model.misfit(&values) {
        Some(Misfit::Length(got)) => Err(Error::invalid(
            "vector",
            format!(
                "model {named:?} gives {} numbers, got {got}",
                model.vector_length
            ),
        )),
        Some(Misfit::NotFinite) => Err(Error::invalid("vector", "must hold finite numbers only")),
        None => Ok((values, named)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> FaceModel {
        FaceModel {
            name: "face-v1".into(),
            vector_length: 3,
        }
    }

    #[test]
    fn a_vector_must_be_of_this_installations_model_and_length() {
        let s = settings();
        let (vector, model) = parse_vector("[0.5, -1, 2e-3]", Some(" face-v1 "), &s).unwrap();
        assert_eq!((vector.len(), model.as_str()), (3, "face-v1"));
        let field = |vector: &str, model: Option<&str>| {
            parse_vector(vector, model, &s)
                .unwrap_err()
                .field()
                .map(String::from)
        };
        assert_eq!(field("[1, 2, 3]", None).as_deref(), Some("model"));
        assert_eq!(
            field("[1, 2, 3]", Some("other-model")).as_deref(),
            Some("model")
        );
        assert_eq!(field("[1, 2]", Some("face-v1")).as_deref(), Some("vector"));
        assert_eq!(
            field("[1, 2, \"x\"]", Some("face-v1")).as_deref(),
            Some("vector")
        );
        assert_eq!(
            field("[1, 2, 1e39]", Some("face-v1")).as_deref(),
            Some("vector")
        );
    }
}
