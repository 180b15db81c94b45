//! Video: the installation watches its cameras' streams itself. A video worker ([`worker`])
//! holds cameras by lease ([`crate::cameras::leases`]) and watches each ([`camera`]): FFmpeg
//! decodes the stream in a process of its own ([`source`], [`ppm`]), the frames are searched
//! for faces where something moved ([`regions`]), each face is followed across frames and
//! keeps its best shot ([`tracker`], [`analysis`]), and each track is posted as sightings to
//! the installation ([`station`]), which makes one event of it
//! ([`crate::monitoring::sightings`]).
//!
//! `dossier serve` runs a video worker of its own (up to `VIDEO_WORKER_CAMERAS` cameras);
//! `dossier video-worker --server URL` runs more on other machines.

pub mod analysis;
pub mod camera;
pub mod ppm;
pub mod regions;
pub mod source;
pub mod station;
pub mod tracker;
pub mod worker;

use crate::settings::Bounded;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct VideoSettings {
    /// How many cameras this process's own video worker watches at most; 0: none (they are
    /// left to `dossier video-worker` processes).
    #[serde(rename = "VIDEO_WORKER_CAMERAS")]
    pub cameras: Bounded<0, 64>,
    /// The FFmpeg program that decodes the streams.
    #[serde(rename = "FFMPEG")]
    pub ffmpeg: PathBuf,
}

impl Default for VideoSettings {
    fn default() -> Self {
        Self {
            cameras: Bounded::new(4),
            ffmpeg: "ffmpeg".into(),
        }
    }
}
