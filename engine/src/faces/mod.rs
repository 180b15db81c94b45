//! Faces: the one face of a dossier's photo found, described and cut out ([`extract`]), the
//! vectors of photos stored before the engine ran ([`backfill`]), and every face of a photo
//! compared with every vector of the installation's model ([`search`]), whose results the page
//! reads back ([`recent`]). [`Faces`] is what the rest of the engine holds of them: the model,
//! and the engine when the model is the built-in one.

pub mod backfill;
pub mod extract;
pub mod gate;
pub mod recent;
pub mod search;

use crate::error::{Error, Result};
use crate::settings::{Bounded, SettingError};
use face_engine::Engine;
use serde::Deserialize;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FaceSettings {
    /// The model whose vectors this installation stores; others are refused. The default is
    /// the built-in engine; another name turns the engine off (vectors then come with the
    /// photos, from an external extractor).
    #[serde(rename = "FACE_MODEL")]
    pub model: String,
    /// Floats per vector of that model: 128 for the built-in one, 512 by default for another.
    #[serde(rename = "FACE_VECTOR_LENGTH")]
    pub vector_length: Option<Bounded<1, 8192>>,
    /// Where the built-in engine's model files are; a missing or altered file stops start-up.
    #[serde(rename = "FACE_MODELS_DIR")]
    pub models_dir: PathBuf,
    /// The least height, in pixels, of a dossier photo's face (unless the upload insists).
    #[serde(rename = "FACE_MIN_SIZE")]
    pub min_size: Bounded<0, 10_000>,
    /// The least sharpness (0–1) of a dossier photo's face (unless the upload insists).
    #[serde(rename = "FACE_MIN_SHARPNESS")]
    pub min_sharpness: crate::settings::Share,
}

/// Longest model name.
const MAX_MODEL_NAME: usize = 64;
/// A vector's length where another model's settings do not say.
const OTHER_MODELS_LENGTH: usize = 512;

impl Default for FaceSettings {
    fn default() -> Self {
        Self {
            model: face_engine::MODEL_NAME.into(),
            vector_length: None,
            models_dir: "data/face-models".into(),
            min_size: Bounded::new(gate::EnrolmentGate::default().min_size as i64),
            min_sharpness: crate::settings::Share(
                gate::EnrolmentGate::default().min_sharpness as f64,
            ),
        }
    }
}

impl FaceSettings {
    /// What a dossier's photo must measure.
    pub fn gate(&self) -> gate::EnrolmentGate {
        gate::EnrolmentGate {
            min_size: self.min_size.get() as u32,
            min_sharpness: self.min_sharpness.0 as f32,
        }
    }

    /// The model these settings name, checked: a name of at most 64 characters, and the
    /// built-in model only at its own length.
    pub fn model(&self) -> Result<FaceModel, SettingError> {
        let name = self.model.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_MODEL_NAME {
            return Err(SettingError::new(
                "FACE_MODEL",
                format!("must be 1 to {MAX_MODEL_NAME} characters"),
            ));
        }
        let built_in = name == face_engine::MODEL_NAME;
        let vector_length = match self.vector_length.map(|n| n.get() as usize) {
            Some(n) if built_in && n != face_engine::VECTOR_LENGTH => {
                return Err(SettingError::new(
                    "FACE_VECTOR_LENGTH",
                    format!(
                        "the built-in model {} gives {} numbers, not {n}",
                        face_engine::MODEL_NAME,
                        face_engine::VECTOR_LENGTH
                    ),
                ))
            }
            Some(n) => n,
            None if built_in => face_engine::VECTOR_LENGTH,
            None => OTHER_MODELS_LENGTH,
        };
        Ok(FaceModel {
            name,
            vector_length,
        })
    }
}

/// The face model whose vectors this installation stores, and their length: vectors of
/// another model, or of another length, are never compared with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceModel {
    pub name: String,
    pub vector_length: usize,
}

impl FaceModel {
    pub fn is_built_in(&self) -> bool {
        self.name == face_engine::MODEL_NAME
    }

    /// The model a caller says made its vectors, which must be this one: vectors of another
    /// model are not comparable with ours. The same rule, in the same words, for a photo's
    /// vector and a camera's.
    pub fn accept(&self, named: Option<&str>) -> Result<String> {
        let named = named.map(str::trim).filter(|m| !m.is_empty()).ok_or_else(|| {
            Error::invalid(
                "model",
                format!(
                    "is required with vectors: the name of the model that made them (to match here, name the model this installation uses: {:?})",
                    self.name
                ),
            )
        })?;
        if named != self.name {
            return Err(Error::invalid(
                "model",
                format!(
                    "vectors of model {named:?} are not comparable with this installation's model {:?}",
                    self.name
                ),
            ));
        }
        Ok(named.to_string())
    }

    /// What is wrong with a vector said to be of this model, if anything.
    pub fn misfit(&self, vector: &[f32]) -> Option<Misfit> {
        if vector.len() != self.vector_length {
            return Some(Misfit::Length(vector.len()));
        }
        vector
            .iter()
            .any(|x| !x.is_finite())
            .then_some(Misfit::NotFinite)
    }
}

/// Why a vector does not fit its model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misfit {
    /// It has this many numbers, not the model's.
    Length(usize),
    /// It holds an infinity or a NaN.
    NotFinite,
}

impl Default for FaceModel {
    /// An external extractor's model, as the tests use.
    fn default() -> Self {
        Self {
            name: "face-v1".into(),
            vector_length: OTHER_MODELS_LENGTH,
        }
    }
}

/// The installation's faces as the engine's parts hold them.
#[derive(Clone)]
pub struct Faces {
    pub pool: PgPool,
    pub model: FaceModel,
    /// The face engine, when the model is the built-in one; otherwise vectors come with the
    /// photos or not at all.
    pub engine: Option<Arc<Engine>>,
    /// Searches by photo made from the page, until their results are read.
    pub recent: Arc<recent::RecentSearches>,
    /// What a dossier's photo must measure.
    pub gate: gate::EnrolmentGate,
}

/// One set of models per core: photos are analysed in parallel, each on one core.
pub fn engine_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The engine of `model` when it is the built-in one, its files checked; an error naming the
/// file when one is missing or not the published one.
pub async fn load_engine(
    model: &FaceModel,
    models_dir: &std::path::Path,
) -> Result<Option<Arc<Engine>>, String> {
    if !model.is_built_in() {
        tracing::info!(
            face_model = %model.name,
            "no face engine: vectors come with the photos (an external extractor)"
        );
        return Ok(None);
    }
    let dir = models_dir.to_path_buf();
    let started = std::time::Instant::now();
    let engine = tokio::task::spawn_blocking(move || Engine::load(&dir, engine_workers()))
        .await
        .map_err(|e| format!("loading the face models failed: {e}"))?
        .map_err(|e| format!("{e} (FACE_MODELS_DIR)"))?;
    tracing::info!(
        dir = %models_dir.display(),
        model = face_engine::MODEL_NAME,
        ms = started.elapsed().as_millis() as u64,
        "face engine loaded"
    );
    Ok(Some(Arc::new(engine)))
}
