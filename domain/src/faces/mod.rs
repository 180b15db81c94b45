//! Faces: where a photo's face is, the vector the installation's engine (`face_engine`) gives
//! it, and the dossiers a photo's faces resemble. A photo of a dossier must show exactly one
//! face ([`extract`]); photos stored before the engine ran get theirs from [`backfill`];
//! [`search`] compares every face of a photo with every vector of the installation's model.

#[cfg(feature = "store")]
pub mod backfill;
#[cfg(feature = "store")]
pub mod extract;
#[cfg(feature = "store")]
pub mod recent;
#[cfg(feature = "store")]
pub mod search;

use serde::{Deserialize, Serialize};

/// Where a face is, in pixels of the upright photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaceBox {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

impl FaceBox {
    /// As stored in `photos.face_box`: left, top, width, height.
    pub fn to_array(self) -> [i32; 4] {
        [self.left, self.top, self.width, self.height].map(|v| v.min(i32::MAX as u32) as i32)
    }

    pub fn from_slice(v: &[i32]) -> Option<Self> {
        match v {
            &[left, top, width, height] => Some(Self {
                left: left.max(0) as u32,
                top: top.max(0) as u32,
                width: width.max(0) as u32,
                height: height.max(0) as u32,
            }),
            _ => None,
        }
    }
}

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
    /// 0–1: see `face_engine::confidence`.
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
