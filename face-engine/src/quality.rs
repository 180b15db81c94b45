//! How good a picture of a face is for matching: big enough, sharp enough, and facing the
//! camera. The descriptor sees a 150-pixel chip of the face, so a face is judged at that size:
//! a small face blown up to it is as blurry to the descriptor as a big face out of focus, and
//! both match everyone a little. Video keeps the best shot of each person by this score and
//! drops faces under a camera's gate; a dossier's photo is refused under the installation's.

use crate::engine::FaceBox;
use image::{imageops::FilterType, GrayImage, RgbImage};

/// The side, in pixels, a face is judged at: about the descriptor's chip.
const JUDGED_SIDE: u32 = 128;
/// A face this tall (in pixels of its picture) or taller loses nothing for its size: the
/// detector's window. A smaller face loses as much again in sharpness, blown up to be judged.
pub const FULL_SIZE: u32 = crate::engine::DETECTOR_WINDOW;
/// The sharpness measure (the variance of the judged face's Laplacian over the variance of
/// its pixels) at which a face counts as fully sharp: the faces of the test photos read 0.09 to
/// 0.24; blurred with a Gaussian of 1 px, 0.03 to 0.07; of 2 px, 0.01 to 0.03; of 4 px, under 0.01.
const FULL_SHARPNESS: f32 = 0.05;
/// How far (in eye distances) the base of the nose sits off the middle of the eyes in a face
/// that counts as frontal, and in one that counts as a profile. The offset is about 0.4 × the
/// tangent of the head's turn: 0.1 at 15°, 0.23 at 30°, 0.4 at 45°; the test photos read 0.03
/// to 0.15.
const FRONTAL_OFFSET: f32 = 0.1;
const PROFILE_OFFSET: f32 = 0.6;

/// A face's quality, each part from 0 (useless) to 1 (as good as it gets).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// Its height against [`FULL_SIZE`].
    pub size: f32,
    /// Its sharpness at the size the descriptor sees it.
    pub sharpness: f32,
    /// How squarely it faces the camera, from its landmarks (1 when they are not known).
    pub frontal: f32,
}

impl Quality {
    /// The face's quality in one number: the product of its parts, so that a face poor in any
    /// one of them scores low.
    pub fn score(&self) -> f32 {
        self.size * self.sharpness * self.frontal
    }
}

/// The quality of the face at `bounds` in `image`; `landmarks` (eye corners, nose) when known.
pub fn quality(image: &RgbImage, bounds: &FaceBox, landmarks: Option<&[(f32, f32); 5]>) -> Quality {
    Quality {
        size: (bounds.height as f32 / FULL_SIZE as f32).min(1.0),
        sharpness: sharpness(image, bounds),
        frontal: landmarks.map_or(1.0, frontal),
    }
}

/// The sharpness of the face at `bounds` in `image`, 0–1.
pub fn sharpness(image: &RgbImage, bounds: &FaceBox) -> f32 {
    (sharpness_measure(image, bounds) / FULL_SHARPNESS).min(1.0)
}

/// The variance of the face's Laplacian over the variance of its pixels, at the judged size:
/// contrast cancels out, so a dim face is not taken for a blurred one. The middle of the box
/// only, so that the background's edges do not count.
pub fn sharpness_measure(image: &RgbImage, bounds: &FaceBox) -> f32 {
    let inset_x = bounds.width / 8;
    let inset_y = bounds.height / 8;
    let left = (bounds.left + inset_x).min(image.width().saturating_sub(1));
    let top = (bounds.top + inset_y).min(image.height().saturating_sub(1));
    let width = (bounds.width - 2 * inset_x)
        .min(image.width() - left)
        .max(1);
    let height = (bounds.height - 2 * inset_y)
        .min(image.height() - top)
        .max(1);
    let crop = image::imageops::crop_imm(image, left, top, width, height).to_image();
    let gray: GrayImage = image::imageops::grayscale(&crop);
    let judged = image::imageops::resize(&gray, JUDGED_SIDE, JUDGED_SIDE, FilterType::Triangle);
    let pixel = |x: u32, y: u32| f32::from(judged.get_pixel(x, y)[0]);
    let (mut sum, mut squares, mut n) = (0.0f64, 0.0f64, 0.0f64);
    let (mut lap_sum, mut lap_squares) = (0.0f64, 0.0f64);
    for y in 1..JUDGED_SIDE - 1 {
        for x in 1..JUDGED_SIDE - 1 {
            let v = pixel(x, y);
            let lap =
                pixel(x - 1, y) + pixel(x + 1, y) + pixel(x, y - 1) + pixel(x, y + 1) - 4.0 * v;
            sum += f64::from(v);
            squares += f64::from(v) * f64::from(v);
            lap_sum += f64::from(lap);
            lap_squares += f64::from(lap) * f64::from(lap);
            n += 1.0;
        }
    }
    let variance = squares / n - (sum / n).powi(2);
    let lap_variance = lap_squares / n - (lap_sum / n).powi(2);
    if variance < 1.0 {
        // A flat patch: nothing to see, sharp or not.
        return 0.0;
    }
    (lap_variance / variance) as f32
}

/// How squarely a face looks at the camera, from how far the base of its nose sits off the
/// middle of its eyes along the line between them.
pub fn frontal(landmarks: &[(f32, f32); 5]) -> f32 {
    let mid = |a: (f32, f32), b: (f32, f32)| ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
    let one = mid(landmarks[0], landmarks[1]);
    let other = mid(landmarks[2], landmarks[3]);
    let nose = landmarks[4];
    let axis = (other.0 - one.0, other.1 - one.1);
    let eyes = (axis.0 * axis.0 + axis.1 * axis.1).sqrt();
    if eyes < 1.0 {
        return 0.0;
    }
    let middle = mid(one, other);
    let offset = ((nose.0 - middle.0) * axis.0 + (nose.1 - middle.1) * axis.1) / (eyes * eyes);
    (1.0 - (offset.abs() - FRONTAL_OFFSET) / (PROFILE_OFFSET - FRONTAL_OFFSET)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_face_turned_away_is_less_frontal() {
        let eyes = [(40.0, 50.0), (60.0, 50.0), (100.0, 50.0), (80.0, 50.0)];
        let with_nose = |x: f32| [eyes[0], eyes[1], eyes[2], eyes[3], (x, 80.0)];
        assert!((frontal(&with_nose(70.0)) - 1.0).abs() < 1e-6);
        let turned = frontal(&with_nose(85.0));
        assert!(turned > 0.0 && turned < 0.7, "{turned}");
        assert_eq!(frontal(&with_nose(110.0)), 0.0);
        // Tilting the head does not make it less frontal.
        let tilted = [
            (50.0, 40.0),
            (50.0, 60.0),
            (50.0, 100.0),
            (50.0, 80.0),
            (20.0, 70.0),
        ];
        assert!(frontal(&tilted) > 0.99);
    }

    #[test]
    fn a_flat_or_blurred_patch_is_not_sharp() {
        let bounds = FaceBox {
            left: 0,
            top: 0,
            width: 200,
            height: 200,
        };
        let flat = RgbImage::from_pixel(200, 200, image::Rgb([120, 120, 120]));
        assert_eq!(sharpness_measure(&flat, &bounds), 0.0);
        let checks = RgbImage::from_fn(200, 200, |x, y| {
            let v = if (x / 6 + y / 6) % 2 == 0 { 40 } else { 200 };
            image::Rgb([v, v, v])
        });
        let sharp = sharpness_measure(&checks, &bounds);
        let blurred = sharpness_measure(&image::imageops::blur(&checks, 4.0), &bounds);
        assert!(blurred < sharp / 4.0, "sharp {sharp}, blurred {blurred}");
    }
}
