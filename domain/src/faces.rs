//! Faces: where a photo's face is, the vector the installation's engine gives it, and the
//! dossiers a photo's faces resemble: what a search by photo answers. Finding and describing
//! faces, and the search itself, are the engine's (`engine::faces`).

pub use crate::face_box::FaceBox;
use serde::{Deserialize, Serialize};

/// A dossier whose photo resembles a searched face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaceMatch {
    pub dossier_id: i64,
    pub name: String,
    pub active: bool,
    /// The watch lists the dossier is in, by name.
    pub lists: Vec<String>,
    /// The dossier's photo that resembles the face most, and its image's hash (its thumbnail is
    /// `/photos/{sha256}/face`).
    pub photo_id: i64,
    pub photo_sha256: String,
    /// 0–1: see `similarity::confidence`.
    pub confidence: f32,
}

/// A face found in a searched photo, with the dossiers it resembles, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FoundFace {
    pub bounds: FaceBox,
    pub matches: Vec<FaceMatch>,
}

/// What a search by photo found: every face of the photo, largest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaceSearchResult {
    /// The searched photo's size (upright), for drawing the boxes over it.
    pub width: u32,
    pub height: u32,
    pub faces: Vec<FoundFace>,
    /// How many vectors were compared.
    pub compared: i64,
}

/// How many dossiers a search shows per face unless asked for fewer.
pub const DEFAULT_MATCHES: usize = 5;
/// The most a search shows per face.
pub const MAX_MATCHES: usize = 50;
