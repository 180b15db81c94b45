//! Photos: one face each, the image stored once per content hash with a thumbnail (`images`),
//! and optionally that face's feature vector from the installation's model.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhotoInfo {
    pub id: i64,
    pub dossier_id: i64,
    /// Hex SHA-256 of the image bytes; the photo's address under `/photos/`.
    pub sha256: String,
    pub content_type: String,
    pub width: i32,
    pub height: i32,
    pub face_model: Option<String>,
    pub has_vector: bool,
    /// Where the face is, when the installation's engine found it.
    pub face_box: Option<crate::faces::FaceBox>,
}

/// The fields of a photo upload as they arrived, before any check. The adapter that reads the
/// request (multipart) enforces the upload limit while reading; everything else is checked here.
#[derive(Debug, Default)]
pub struct UploadFields {
    pub dossier_id: Option<String>,
    pub image: Option<Vec<u8>>,
    pub vector: Option<String>,
    pub model: Option<String>,
    /// Other short text fields of the same multipart form, by name (a search's filters).
    pub extra: std::collections::HashMap<String, String>,
}

/// An uploaded image as its chunks arrive, refused as soon as it passes the upload limit, so
/// that an oversized body is never held whole.
#[derive(Debug)]
pub struct ImageUpload {
    limit: usize,
    bytes: Vec<u8>,
}

impl ImageUpload {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: Vec::new(),
        }
    }

    /// Appends the next chunk; too large once the image passes the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), crate::Error> {
        if self.bytes.len() + chunk.len() > self.limit {
            return Err(crate::Error::TooLarge {
                message: format!(
                    "image: larger than the upload limit of {} bytes",
                    self.limit
                ),
            });
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}
