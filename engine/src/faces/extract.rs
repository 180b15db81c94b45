//! The one face of a dossier's photo: found, described and cut out for thumbnails. Blocking:
//! callers run it on the blocking pool.

use super::gate::EnrolmentGate;
use crate::error::{Error, Result};
use domain::faces::FaceBox;
use face_engine::Engine;
use image::{DynamicImage, RgbImage};

/// The face of a photo that shows exactly one.
pub struct OneFace {
    pub bounds: FaceBox,
    pub vector: Vec<f32>,
    /// A JPEG of the face with a margin around it.
    pub thumbnail: Vec<u8>,
}

/// The photo's one face, or [`domain::Error::Faces`] saying how many there are and where, or
/// that it is under `gate` (too small, too blurred) when a gate is given.
pub fn one_face(
    engine: &Engine,
    picture: &DynamicImage,
    gate: Option<&EnrolmentGate>,
) -> Result<OneFace> {
    let pixels = picture.to_rgb8();
    let found: Vec<FaceBox> = engine.detect(&pixels);
    if let [bounds] = found.as_slice() {
        if let Some(gate) = gate {
            gate.check(&pixels, bounds)?;
        }
        let vector = engine.describe(&pixels, bounds);
        if vector.len() != face_engine::VECTOR_LENGTH {
            tracing::error!(
                length = vector.len(),
                "the face engine gave a vector of the wrong length"
            );
            return Err(Error::internal());
        }
        return Ok(OneFace {
            bounds: *bounds,
            vector,
            thumbnail: face_thumbnail(picture, bounds)?,
        });
    }
    let message = match found.len() {
        0 => "no face was found in the photo; upload one that shows the person's face from the front".to_string(),
        n => format!(
            "{n} faces were found in the photo; a dossier's photo must show exactly one (crop it to the person's face)"
        ),
    };
    Err(domain::Error::Faces {
        message,
        found,
        width: picture.width(),
        height: picture.height(),
    }
    .into())
}

/// Every face of a picture with its vector, largest first.
pub fn all_faces(engine: &Engine, pixels: &RgbImage) -> Vec<(FaceBox, Vec<f32>)> {
    engine
        .analyse(pixels)
        .into_iter()
        .map(|f| (f.bounds, f.vector))
        .collect()
}

/// The face with half its size around it, as a thumbnail.
pub fn face_thumbnail(picture: &DynamicImage, b: &FaceBox) -> Result<Vec<u8>> {
    let (w, h) = (picture.width(), picture.height());
    let margin_x = b.width / 2;
    let margin_y = b.height / 2;
    let left = b.left.saturating_sub(margin_x);
    let top = b.top.saturating_sub(margin_y);
    let right = (b.left + b.width + margin_x).min(w);
    let bottom = (b.top + b.height + margin_y).min(h);
    let crop = picture.crop_imm(
        left,
        top,
        right.saturating_sub(left).max(1),
        bottom.saturating_sub(top).max(1),
    );
    crate::images::thumbnail(&crop)
}
