//! Detection and description on dlib's models, a set per core so that photos are processed in
//! parallel (dlib's detector and network keep scratch space and must not be shared).

use crate::models::{verified, LoadError, MODEL_FILES};
use dlib_face_recognition::{
    FaceDetector, FaceDetectorTrait, FaceEncoderNetwork, FaceEncoderTrait, ImageMatrix,
    LandmarkPredictor, LandmarkPredictorTrait, Rectangle,
};
use image::{imageops::FilterType, RgbImage};
use std::path::Path;
use std::sync::{Condvar, Mutex};

/// Longest side, in pixels, of the picture the detector looks at. HOG time grows with the
/// pixel count (about 0.15 s per megapixel here); at 800 px a photo takes under 0.1 s, and
/// faces down to a tenth of the photo's longest side (80 px, the detector's window) are found.
const DETECTION_SIDE: u32 = 800;
/// Longest side of the picture landmarks and descriptors are taken from: the descriptor sees
/// a 150 px chip, so more pixels only cost time.
const DESCRIPTION_SIDE: u32 = 1600;

/// Where a face is, in pixels of the picture it was found in: the one box type the engine and
/// the rest of the product share.
pub use domain::face_box::FaceBox;

/// A face found in a video frame: where it is, and its five landmarks (the corners of each eye,
/// then the base of the nose) in pixels of the picture, which say how frontal it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub bounds: FaceBox,
    pub landmarks: [(f32, f32); 5],
}

/// How tall, in pixels, a face must be for the detector to find it at scale 1: its window.
pub const DETECTOR_WINDOW: u32 = 80;

/// A face found in a picture, with its vector.
#[derive(Debug, Clone)]
pub struct Face {
    pub bounds: FaceBox,
    pub vector: Vec<f32>,
}

struct Models {
    detector: FaceDetector,
    landmarks: LandmarkPredictor,
    descriptor: FaceEncoderNetwork,
}

/// The face engine. Every method blocks for tens of milliseconds: call it off async workers.
pub struct Engine {
    idle: Mutex<Vec<Models>>,
    returned: Condvar,
}

impl Engine {
    /// Loads the models from `dir` after checking each file's SHA-256, with a set of models
    /// for each of `workers` concurrent callers.
    pub fn load(dir: &Path, workers: usize) -> Result<Self, LoadError> {
        let [landmarks_file, descriptor_file] = &MODEL_FILES;
        let landmarks_path = verified(dir, landmarks_file)?;
        let descriptor_path = verified(dir, descriptor_file)?;
        let landmarks =
            LandmarkPredictor::open(&landmarks_path).map_err(|error| LoadError::Unloadable {
                path: landmarks_path,
                error,
            })?;
        let descriptor =
            FaceEncoderNetwork::open(&descriptor_path).map_err(|error| LoadError::Unloadable {
                path: descriptor_path,
                error,
            })?;
        let idle = (0..workers.max(1))
            .map(|_| Models {
                detector: FaceDetector::new(),
                landmarks: landmarks.clone(),
                descriptor: descriptor.clone(),
            })
            .collect();
        Ok(Self {
            idle: Mutex::new(idle),
            returned: Condvar::new(),
        })
    }

    /// Every face in `image`, with its vector.
    pub fn analyse(&self, image: &RgbImage) -> Vec<Face> {
        self.with_models(|m| {
            let boxes = detect(m, image);
            if boxes.is_empty() {
                return Vec::new();
            }
            let (matrix, scale) = matrix_of(image, DESCRIPTION_SIDE);
            boxes
                .into_iter()
                .map(|bounds| Face {
                    vector: describe(m, &matrix, scale, &bounds),
                    bounds,
                })
                .collect()
        })
    }

    /// Where the faces in `image` are, largest first.
    pub fn detect(&self, image: &RgbImage) -> Vec<FaceBox> {
        self.with_models(|m| detect(m, image))
    }

    /// The faces in `image` looked for at `scale` (so that faces down to
    /// [`DETECTOR_WINDOW`]` / scale` pixels tall are found, and the cost follows the scaled
    /// picture's pixel count), with their landmarks, largest first. For video: the caller
    /// chooses the scale from the smallest face it wants, and the part of the frame to look in.
    pub fn find(&self, image: &RgbImage, scale: f64) -> Vec<Found> {
        if image.width() == 0 || image.height() == 0 || scale.is_nan() || scale <= 0.0 {
            return Vec::new();
        }
        self.with_models(|m| {
            let (matrix, scale) = matrix_scaled(image, scale);
            let mut found: Vec<Found> = m
                .detector
                .face_locations(&matrix)
                .iter()
                .filter_map(|r| {
                    let bounds = unscale(r, scale, image.width(), image.height())?;
                    let points = m.landmarks.face_landmarks(&matrix, r);
                    let mut landmarks = [(0.0, 0.0); 5];
                    for (to, p) in landmarks.iter_mut().zip(points.iter()) {
                        *to = ((p.x() as f64 / scale) as f32, (p.y() as f64 / scale) as f32);
                    }
                    (points.len() == 5).then_some(Found { bounds, landmarks })
                })
                .collect();
            found.sort_by_key(|f| {
                std::cmp::Reverse(u64::from(f.bounds.width) * u64::from(f.bounds.height))
            });
            found
        })
    }

    /// The vector of the face at `bounds` in `image`.
    pub fn describe(&self, image: &RgbImage, bounds: &FaceBox) -> Vec<f32> {
        self.with_models(|m| {
            let (matrix, scale) = matrix_of(image, DESCRIPTION_SIDE);
            describe(m, &matrix, scale, bounds)
        })
    }

    fn with_models<T>(&self, work: impl FnOnce(&Models) -> T) -> T {
        let models = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                match idle.pop() {
                    Some(m) => break m,
                    None => idle = self.returned.wait(idle).unwrap_or_else(|e| e.into_inner()),
                }
            }
        };
        // Put back even if the work panics, so that one bad picture cannot use up the set.
        struct Return<'a>(&'a Engine, Option<Models>);
        impl Drop for Return<'_> {
            fn drop(&mut self) {
                if let Some(m) = self.1.take() {
                    let mut idle = self.0.idle.lock().unwrap_or_else(|e| e.into_inner());
                    idle.push(m);
                    self.0.returned.notify_one();
                }
            }
        }
        let guard = Return(self, Some(models));
        work(guard.1.as_ref().expect("models are held until dropped"))
    }
}

/// The picture as dlib's matrix, scaled so that its longest side is at most `side` (small
/// pictures are doubled at most once, so that small faces reach the detector's window), and
/// the factor from the original's pixels to the matrix's.
fn matrix_of(image: &RgbImage, side: u32) -> (ImageMatrix, f64) {
    let longest = image.width().max(image.height()).max(1);
    matrix_scaled(image, (f64::from(side) / f64::from(longest)).min(2.0))
}

/// The picture as dlib's matrix, scaled by `scale` (left as it is within 5 %), and the factor
/// from the original's pixels to the matrix's.
fn matrix_scaled(image: &RgbImage, scale: f64) -> (ImageMatrix, f64) {
    let scaled;
    let pixels = if (scale - 1.0).abs() < 0.05 {
        image
    } else {
        let w = ((f64::from(image.width()) * scale).round() as u32).max(1);
        let h = ((f64::from(image.height()) * scale).round() as u32).max(1);
        scaled = image::imageops::resize(image, w, h, FilterType::Triangle);
        &scaled
    };
    let len = pixels.width() as usize * pixels.height() as usize * 3;
    assert_eq!(
        pixels.as_raw().len(),
        len,
        "an RgbImage holds 3 bytes per pixel"
    );
    // SAFETY: the buffer holds width × height RGB triples, checked just above, and outlives
    // the call, which copies it.
    let matrix = unsafe {
        ImageMatrix::new(
            pixels.width() as usize,
            pixels.height() as usize,
            pixels.as_ptr(),
        )
    };
    let scale = f64::from(pixels.width()) / f64::from(image.width().max(1));
    (matrix, scale)
}

fn detect(models: &Models, image: &RgbImage) -> Vec<FaceBox> {
    if image.width() == 0 || image.height() == 0 {
        return Vec::new();
    }
    let (matrix, scale) = matrix_of(image, DETECTION_SIDE);
    let mut boxes: Vec<FaceBox> = models
        .detector
        .face_locations(&matrix)
        .iter()
        .filter_map(|r| unscale(r, scale, image.width(), image.height()))
        .collect();
    boxes.sort_by_key(|b| std::cmp::Reverse(u64::from(b.width) * u64::from(b.height)));
    boxes
}

/// A detector rectangle in the original picture's pixels, clipped to it; `None` if nothing of
/// it is inside.
fn unscale(r: &Rectangle, scale: f64, width: u32, height: u32) -> Option<FaceBox> {
    let at =
        |v: std::os::raw::c_long, max: u32| ((v as f64 / scale).round().max(0.0) as u32).min(max);
    let (left, top) = (at(r.left, width), at(r.top, height));
    let (right, bottom) = (at(r.right, width), at(r.bottom, height));
    (right > left && bottom > top).then(|| FaceBox {
        left,
        top,
        width: right - left,
        height: bottom - top,
    })
}

fn describe(models: &Models, matrix: &ImageMatrix, scale: f64, bounds: &FaceBox) -> Vec<f32> {
    let at = |v: u32| (f64::from(v) * scale).round() as std::os::raw::c_long;
    let rect = Rectangle {
        left: at(bounds.left),
        top: at(bounds.top),
        right: at(bounds.left + bounds.width),
        bottom: at(bounds.top + bounds.height),
    };
    let landmarks = models.landmarks.face_landmarks(matrix, &rect);
    let encodings = models
        .descriptor
        .get_face_encodings(matrix, &[landmarks], 0);
    encodings
        .first()
        .map(|e| e.as_ref().iter().map(|&v| v as f32).collect())
        .unwrap_or_default()
}
