//! Cameras: the video streams an installation watches itself. Each has a name (what its
//! events say), a stream (`rtsp://`, `http(s)://`, or a file path for recordings and tests), how
//! many frames a second are analysed, the gates a face must pass (its size, its quality), and
//! optionally the region of the frame that is watched. Its live status says what the video
//! worker that holds it sees: connecting, streaming (how fast, how many faces), or failed (why,
//! and when it tries again).

use crate::error::{Error, Result};
use crate::input::{required_text, Flag};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Frames analysed per second when not said.
pub const DEFAULT_FPS: f32 = 5.0;
/// The most frames a second a camera may have analysed.
pub const MAX_FPS: f32 = 30.0;
/// A face smaller than this (its height, in pixels of the frame) is not looked at, when not said.
pub const DEFAULT_MIN_FACE: i32 = 80;
/// A face of lower quality (0–1: size, sharpness, how frontal) makes no event, when not said.
pub const DEFAULT_MIN_QUALITY: f32 = 0.3;
/// Longest stream URL.
pub const MAX_URL: usize = 2048;

crate::named_enum! {
    /// Where a camera stands.
    pub enum CameraState {
        /// Enabled, and no video worker holds it yet.
        Waiting = "waiting",
        /// A worker is opening its stream.
        Connecting = "connecting",
        /// Frames are coming and being analysed.
        Streaming = "streaming",
        /// The stream cannot be read; the worker tries again at `next_retry_at`.
        Failed = "failed",
        /// Switched off by an Administrator.
        Disabled = "disabled",
    }
}

/// The part of the frame a camera watches, as shares of its width and height (0–1), so that it
/// holds whatever the stream's resolution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Region {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

impl Region {
    /// The region as typed: `left,top,width,height`, each a share from 0 to 1 (`0.25,0,0.5,1`
    /// is the middle half); empty is the whole frame.
    pub fn parse(text: &str) -> Result<Option<Self>> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let bad = || {
            Error::invalid(
                "region",
                format!("{text:?} is not left,top,width,height as shares of the frame from 0 to 1 (e.g. 0.25,0,0.5,1)"),
            )
        };
        let parts: Vec<f32> = text
            .split(',')
            .map(|p| p.trim().parse::<f32>().map_err(|_| bad()))
            .collect::<Result<_>>()?;
        let [left, top, width, height] = parts[..] else {
            return Err(bad());
        };
        let share = |v: f32| v.is_finite() && (0.0..=1.0).contains(&v);
        if !(share(left) && share(top) && share(width) && share(height)) {
            return Err(bad());
        }
        if width < 0.05 || height < 0.05 || left + width > 1.0001 || top + height > 1.0001 {
            return Err(Error::invalid(
                "region",
                "must lie inside the frame and be at least a twentieth of it each way",
            ));
        }
        Ok(Some(Self {
            left,
            top,
            width,
            height,
        }))
    }

    /// As typed.
    pub fn text(&self) -> String {
        format!("{},{},{},{}", self.left, self.top, self.width, self.height)
    }

    pub fn to_array(self) -> [f32; 4] {
        [self.left, self.top, self.width, self.height]
    }

    pub fn from_slice(v: &[f32]) -> Option<Self> {
        match v {
            &[left, top, width, height] => Some(Self {
                left,
                top,
                width,
                height,
            }),
            _ => None,
        }
    }
}

/// What an Administrator sets of a camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CameraSettings {
    pub name: String,
    pub enabled: bool,
    /// Frames analysed per second.
    pub fps: f32,
    /// The smallest face looked at (its height in pixels of the frame).
    pub min_face: i32,
    /// The lowest quality (0–1) a face may have to make an event.
    pub min_quality: f32,
    pub region: Option<Region>,
}

impl Default for CameraSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            enabled: true,
            fps: DEFAULT_FPS,
            min_face: DEFAULT_MIN_FACE,
            min_quality: DEFAULT_MIN_QUALITY,
            region: None,
        }
    }
}

/// A camera as the Administrator's page and the API show it. Its stream URL is shown without
/// the password it may carry (`rtsp://user:***@host/…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Camera {
    pub id: i64,
    #[serde(flatten)]
    pub settings: CameraSettings,
    pub url: String,
    pub status: CameraStatus,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// What the video worker that holds a camera last said of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CameraStatus {
    pub state: CameraState,
    /// Why it failed, or what it is doing.
    pub detail: Option<String>,
    /// Frames analysed per second, measured.
    pub fps: Option<f32>,
    pub faces_per_minute: Option<f32>,
    /// The size of the frames the stream sends.
    pub width: Option<i32>,
    pub height: Option<i32>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_frame_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub next_retry_at: Option<DateTime<Utc>>,
    /// The video worker that holds the camera, if one does.
    pub worker: Option<String>,
    /// Whether a snapshot of its latest frame is kept (`/cameras/{id}/snapshot`).
    pub has_snapshot: bool,
}

/// A camera as the video worker that leased it sees it: everything it needs to watch it,
/// its stream whole. Its `lease` changes with every new lease, its `revision` with every change
/// of its settings, so that the worker opens the stream anew when they change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeasedCamera {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub fps: f32,
    pub min_face: i32,
    pub min_quality: f32,
    pub region: Option<Region>,
    pub lease: i64,
    /// When its settings last changed.
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub revision: DateTime<Utc>,
}

/// What a video worker says of a camera it holds, every few seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreamReport {
    pub camera: i64,
    pub state: CameraState,
    pub detail: Option<String>,
    pub fps: Option<f32>,
    pub faces_per_minute: Option<f32>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub last_frame_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::time::rfc3339_option")]
    pub next_retry_at: Option<DateTime<Utc>>,
}

/// What a video worker asks of the server every few seconds: the cameras it holds, renewed,
/// and free ones up to `capacity` in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeaseRequest {
    /// The worker's name, unique while it runs (host, process and start).
    pub worker: String,
    pub capacity: u32,
}

/// The cameras a video worker holds, and the face model the server matches with: a worker
/// whose engine is another model cannot watch for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Leases {
    pub model: String,
    pub cameras: Vec<LeasedCamera>,
}

/// What a video worker says of the cameras it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reports {
    pub worker: String,
    pub reports: Vec<StreamReport>,
}

/// A person followed across a camera's frames (a track), as its video worker posts it: when
/// its first shot passes the camera's gates, when a better shot is seen (at most once a
/// second), and when the track ends. The server makes one event of a track, as soon as a shot
/// matches a dossier, else when it ends; later shots update that event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sighting {
    pub camera: i64,
    /// The track's id, unique to it (its camera, lease, the worker's start and its number).
    pub track: String,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub first_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub last_at: DateTime<Utc>,
    /// The person is gone (or the track reached its longest): this is its last post.
    pub ended: bool,
    /// The best shot so far.
    pub shot: Shot,
}

/// The best picture of a track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shot {
    /// Its quality, 0–1 (size, sharpness, how frontal).
    pub quality: f32,
    /// Where the face is in the frame.
    pub face_box: crate::faces::FaceBox,
    /// The face's vector, and the model that made it.
    pub model: String,
    #[schema(value_type = String, format = Byte)]
    #[serde(with = "crate::bytes::base64")]
    pub vector: Vec<u8>,
    /// The face with a margin, a JPEG.
    #[schema(value_type = String, format = Byte)]
    #[serde(with = "crate::bytes::base64")]
    pub face_jpeg: Vec<u8>,
    /// The whole frame, small, a JPEG.
    #[schema(value_type = String, format = Byte)]
    #[serde(with = "crate::bytes::base64")]
    pub frame_jpeg: Vec<u8>,
}

impl Shot {
    /// The vector as floats, from its little-endian bytes.
    pub fn floats(&self) -> Option<Vec<f32>> {
        self.vector.len().is_multiple_of(4).then(|| {
            self.vector
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
    }

    /// Floats as the vector's bytes.
    pub fn vector_bytes(vector: &[f32]) -> Vec<u8> {
        vector.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
}

/// What became of a sighting: the event it made or updated, if any (an unmatched track makes
/// its event when it ends), and whether that event is a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SightingOutcome {
    pub event: Option<i64>,
    pub matched: bool,
}

/// A camera's fields as typed, checked. `url` is required when a camera is created; empty on
/// an update, the stream stays the one stored (which the pages never show whole).
#[derive(Debug, Clone, PartialEq)]
pub struct CameraInput {
    pub settings: CameraSettings,
    pub url: Option<String>,
}

impl CameraInput {
    // One argument per form field, as the forms and the API send them.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        name: &str,
        url: &str,
        enabled: Flag,
        fps: &str,
        min_face: &str,
        min_quality: &str,
        region: &str,
    ) -> Result<Self> {
        let name = crate::monitoring::check_camera(&required_text("name", name, 128)?)
            .map_err(|e| Error::invalid("name", e.message()))?;
        let url = match url.trim() {
            "" => None,
            url => Some(check_url(url)?),
        };
        let number = |field: &str, text: &str, default: f32, min: f32, max: f32| {
            let text = text.trim();
            if text.is_empty() {
                return Ok(default);
            }
            text.parse::<f32>()
                .ok()
                .filter(|v| v.is_finite() && (min..=max).contains(v))
                .ok_or_else(|| {
                    Error::invalid(
                        field,
                        format!("must be a number from {min} to {max}, got {text:?}"),
                    )
                })
        };
        let fps = number("fps", fps, DEFAULT_FPS, 0.2, MAX_FPS)?;
        let min_face = number("min_face", min_face, DEFAULT_MIN_FACE as f32, 20.0, 2000.0)?;
        if min_face.fract() != 0.0 {
            return Err(Error::invalid(
                "min_face",
                "must be a whole number of pixels",
            ));
        }
        let min_quality = number("min_quality", min_quality, DEFAULT_MIN_QUALITY, 0.0, 1.0)?;
        Ok(Self {
            settings: CameraSettings {
                name,
                enabled: enabled.0,
                fps,
                min_face: min_face as i32,
                min_quality,
                region: Region::parse(region)?,
            },
            url,
        })
    }
}

/// A stream the video workers may open: `rtsp(s)://` or `http(s)://` with a host, or a file
/// (`file:///…` or an absolute path). Nothing else, so that no other of FFmpeg's protocols
/// (which could read files the stream does not name) is ever asked for.
pub fn check_url(url: &str) -> Result<String> {
    let url = url.trim();
    if url.chars().count() > MAX_URL {
        return Err(Error::invalid(
            "url",
            format!("must be at most {MAX_URL} characters"),
        ));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            "url",
            "must not contain spaces or control characters",
        ));
    }
    if url.starts_with('/') {
        return Ok(url.to_string());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Error::invalid(
            "url",
            "must be an rtsp://, http(s):// or file:// URL, or an absolute file path",
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" if rest.starts_with('/') => Ok(url.to_string()),
        "rtsp" | "rtsps" | "http" | "https" => {
            let host = rest
                .split(['/', '?', '#'])
                .next()
                .unwrap_or_default()
                .rsplit('@')
                .next()
                .unwrap_or_default();
            if host.is_empty() {
                return Err(Error::invalid("url", format!("{scheme}:// needs a host")));
            }
            Ok(url.to_string())
        }
        other => Err(Error::invalid(
            "url",
            format!("{other}:// is not a stream the video workers open (rtsp, rtsps, http, https, file)"),
        )),
    }
}

/// The URL with the password it carries masked, for showing.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str, fps: &str, region: &str) -> Result<CameraInput> {
        CameraInput::parse(" Gate 1 ", url, Flag(true), fps, "", "", region)
    }

    #[test]
    fn a_camera_is_read_from_its_form() {
        let camera = parse("rtsp://cam.local:554/stream", "", "").unwrap();
        assert_eq!(camera.settings.name, "Gate 1");
        assert_eq!(camera.settings.fps, DEFAULT_FPS);
        assert_eq!(camera.url.as_deref(), Some("rtsp://cam.local:554/stream"));
        let framed = parse("/srv/recordings/door.mp4", "2.5", "0.25, 0, 0.5, 1").unwrap();
        assert_eq!(framed.settings.fps, 2.5);
        assert_eq!(framed.settings.region.unwrap().width, 0.5);
        assert_eq!(parse("", "", "").unwrap().url, None);
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |r: Result<CameraInput>| r.unwrap_err().field().map(String::from);
        for url in [
            "ftp://x/y",
            "concat:/etc/passwd",
            "rtsp://",
            "relative/path.mp4",
            "file://x",
        ] {
            assert_eq!(field(parse(url, "", "")).as_deref(), Some("url"), "{url}");
        }
        assert_eq!(field(parse("", "0", "")).as_deref(), Some("fps"));
        assert_eq!(field(parse("", "100", "")).as_deref(), Some("fps"));
        for region in ["0,0,1", "0.5,0,0.6,1", "0,0,0.01,1", "a,b,c,d"] {
            assert_eq!(
                field(parse("", "", region)).as_deref(),
                Some("region"),
                "{region}"
            );
        }
        let unnamed = CameraInput::parse("", "", Flag(true), "", "", "", "");
        assert_eq!(field(unnamed).as_deref(), Some("name"));
    }

    #[test]
    fn a_password_in_a_url_is_never_shown() {
        assert_eq!(
            shown_url("rtsp://admin:s3cret@10.0.0.5:554/live?x=1"),
            "rtsp://admin:***@10.0.0.5:554/live?x=1"
        );
        assert_eq!(shown_url("rtsp://10.0.0.5/live"), "rtsp://10.0.0.5/live");
        assert_eq!(shown_url("/srv/a.mp4"), "/srv/a.mp4");
    }
}
