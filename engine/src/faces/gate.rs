//! The quality a dossier's photo must have: a face too small or too blurred matches strangers
//! a little, and a watch list full of them alerts on everyone. Such a photo is refused with
//! the reason and the value measured (422), unless the caller insists (`force`).

use crate::error::Result;
use domain::faces::FaceBox;
use face_engine::quality::sharpness;
use image::RgbImage;

/// The least a photo's face must measure; the installation's `FACE_MIN_SIZE` and
/// `FACE_MIN_SHARPNESS`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnrolmentGate {
    /// Its height, in pixels of the photo.
    pub min_size: u32,
    /// Its sharpness, 0–1, as `face_engine::quality` measures it.
    pub min_sharpness: f32,
}

impl Default for EnrolmentGate {
    fn default() -> Self {
        Self {
            min_size: 60,
            min_sharpness: 0.25,
        }
    }
}

impl EnrolmentGate {
    /// Refuses the face at `bounds` of `pixels` if it is under the gate.
    pub fn check(&self, pixels: &RgbImage, bounds: &FaceBox) -> Result<()> {
        let Some(shortfall) = self.shortfall(pixels, bounds) else {
            return Ok(());
        };
        let advice = if bounds.height < self.min_size {
            "a small face matches strangers; upload a larger photo"
        } else {
            "upload a sharper photo"
        };
        Err(domain::Error::Faces {
            message: format!("{shortfall}: {advice}, or send force=true to keep it anyway"),
            found: vec![*bounds],
            width: pixels.width(),
            height: pixels.height(),
        }
        .into())
    }

    /// What the face at `bounds` lacks, if it is under the gate: its size or its sharpness,
    /// measured.
    pub fn shortfall(&self, pixels: &RgbImage, bounds: &FaceBox) -> Option<String> {
        if bounds.height < self.min_size {
            return Some(format!(
                "the face is {} pixels tall, under the {} this installation asks of a dossier's photo (FACE_MIN_SIZE)",
                bounds.height, self.min_size
            ));
        }
        let measured = sharpness(pixels, bounds);
        (measured < self.min_sharpness).then(|| {
            format!(
                "the face is too blurred: its sharpness is {measured:.2}, under the {:.2} this installation asks of a dossier's photo (FACE_MIN_SHARPNESS)",
                self.min_sharpness
            )
        })
    }
}
