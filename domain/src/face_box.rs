//! Where a face is in a picture: the box the engines find and the pages draw, and what an
//! error about a photo's faces points at (a leaf, so that `error` needs no domain concept).

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
