//! A camera's stream decoded by FFmpeg in a process of its own, as Frigate does: whatever
//! FFmpeg reads (RTSP, HTTP with MJPEG or any container, a file) comes out as frames at the
//! rate the camera analyses, and a stream that kills its decoder kills nothing else. Only the
//! protocols a camera's URL scheme needs are allowed, so that a URL cannot make FFmpeg read
//! anything but the stream it names.

use super::ppm::{read_frame, PpmError};
use domain::cameras::shown_url;
use image::RgbImage;
use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// How long a stream has to send its first frame (connecting, probing, the first key frame).
pub const FIRST_FRAME_WITHIN: Duration = Duration::from_secs(20);
/// A stream that sends no frame for this long (or three frame intervals, if longer) is stalled.
pub const STALL_AFTER: Duration = Duration::from_secs(8);
/// Frames wider than this are scaled down to it first: detection cost follows the pixels.
pub const MAX_WIDTH: u32 = 1920;
/// FFmpeg's own socket timeout, so that it gives up on a dead connection by itself.
const SOCKET_TIMEOUT_MICROSECONDS: &str = "5000000";
/// The lines of FFmpeg's errors kept, the last of which says why it stopped.
const ERROR_LINES: usize = 8;

/// Why a stream gave no frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamError {
    #[error(
        "FFmpeg could not be started ({0}); install it (scripts/install-tools.sh) or set FFMPEG"
    )]
    NoDecoder(String),
    #[error("no frame within {} s of connecting", .0.as_secs())]
    NoFirstFrame(Duration),
    #[error("the stream stalled: no frame for {} s", .0.as_secs())]
    Stalled(Duration),
    #[error("the stream ended")]
    Ended,
    #[error("{0}")]
    Failed(String),
}

/// How fast a file is read: as a camera would send it (what a camera pointing at a recording
/// does), or as fast as it decodes (tests and benchmarks). Streams come at their own pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    Live,
    AsDecoded,
}

/// An open stream: FFmpeg running, its frames read as they come.
pub struct Source {
    child: Child,
    frames: BufReader<ChildStdout>,
    errors: Arc<Mutex<VecDeque<String>>>,
    url: String,
    frame_interval: Duration,
    frames_read: u64,
}

impl Source {
    /// Starts FFmpeg on `url`, to give `fps` frames a second.
    pub fn open(ffmpeg: &Path, url: &str, fps: f32, pace: Pace) -> Result<Self, StreamError> {
        let mut child = Command::new(ffmpeg)
            .args(arguments(url, fps, pace))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| StreamError::NoDecoder(format!("{}: {e}", ffmpeg.display())))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let errors = Arc::new(Mutex::new(VecDeque::new()));
        tokio::spawn(keep_errors(stderr, errors.clone(), url.to_string()));
        Ok(Self {
            child,
            // A 720p frame is 2.7 MB; read it in large pieces.
            frames: BufReader::with_capacity(1 << 20, stdout),
            errors,
            url: url.to_string(),
            frame_interval: Duration::from_secs_f32(1.0 / fps.max(0.01)),
            frames_read: 0,
        })
    }

    /// The next frame, or why there is none (the decoder is then stopped).
    pub async fn next_frame(&mut self) -> Result<RgbImage, StreamError> {
        let wait = if self.frames_read == 0 {
            FIRST_FRAME_WITHIN
        } else {
            STALL_AFTER.max(self.frame_interval * 3)
        };
        match tokio::time::timeout(wait, read_frame(&mut self.frames)).await {
            Ok(Ok(frame)) => {
                self.frames_read += 1;
                Ok(frame)
            }
            Err(_) if self.frames_read == 0 => {
                Err(self.stop(StreamError::NoFirstFrame(wait)).await)
            }
            Err(_) => Err(self.stop(StreamError::Stalled(wait)).await),
            Ok(Err(PpmError::Ended)) => Err(self.ended().await),
            Ok(Err(e)) => Err(self.stop(StreamError::Failed(e.to_string())).await),
        }
    }

    /// Stops the decoder.
    pub async fn close(mut self) {
        let _ = self.child.kill().await;
    }

    async fn stop(&mut self, error: StreamError) -> StreamError {
        let _ = self.child.kill().await;
        error
    }

    /// The decoder's output ended: it exited, cleanly at the stream's end, or with an error.
    async fn ended(&mut self) -> StreamError {
        let status = match tokio::time::timeout(Duration::from_secs(3), self.child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                let _ = self.child.kill().await;
                None
            }
        };
        // Its last words may still be on their way through the pipe.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let last = self
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .back()
            .cloned();
        match (status, last) {
            (Some(status), None) if status.success() => StreamError::Ended,
            (_, Some(line)) => StreamError::Failed(line),
            (Some(status), None) => StreamError::Failed(format!(
                "FFmpeg stopped ({status}) reading {}",
                shown_url(&self.url)
            )),
            (None, None) => StreamError::Failed("FFmpeg stopped sending frames".into()),
        }
    }
}

/// FFmpeg's command line for a camera: frames at `fps`, at most [`MAX_WIDTH`] wide, as PPM on
/// its standard output; only the protocols of the URL's scheme; a file read at its own pace,
/// like a camera, unless `pace` says otherwise.
pub fn arguments(url: &str, fps: f32, pace: Pace) -> Vec<String> {
    let scheme = url
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_else(|| "file".into());
    let (protocols, input): (&str, &[&str]) = match scheme.as_str() {
        "rtsp" | "rtsps" => (
            "rtsp,rtsps,rtp,srtp,udp,tcp,tls",
            &[
                "-rtsp_transport",
                "tcp",
                "-timeout",
                SOCKET_TIMEOUT_MICROSECONDS,
            ],
        ),
        // HLS playlists fetch their segments over the same protocols.
        "http" | "https" => (
            "http,https,tcp,tls,crypto,hls",
            &["-rw_timeout", SOCKET_TIMEOUT_MICROSECONDS],
        ),
        _ if pace == Pace::Live => ("file", &["-re"]),
        _ => ("file", &[]),
    };
    let path = url.strip_prefix("file://").unwrap_or(url);
    let mut args: Vec<String> = ["-nostdin", "-hide_banner", "-loglevel", "error"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["-protocol_whitelist".into(), protocols.into()]);
    args.extend(input.iter().map(|s| s.to_string()));
    args.extend(["-i".into(), path.into()]);
    args.extend([
        "-an".into(),
        "-sn".into(),
        "-dn".into(),
        "-vf".into(),
        format!("fps={fps},scale=w='min({MAX_WIDTH},iw)':h=-2"),
        "-f".into(),
        "image2pipe".into(),
        "-c:v".into(),
        "ppm".into(),
        "pipe:1".into(),
    ]);
    args
}

/// Keeps FFmpeg's last error lines, cleaned: no `[rtsp @ 0x…]` prefix, no password.
async fn keep_errors(
    stderr: tokio::process::ChildStderr,
    errors: Arc<Mutex<VecDeque<String>>>,
    url: String,
) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = clean(&line, &url);
        if line.is_empty() {
            continue;
        }
        let mut errors = errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() == ERROR_LINES {
            errors.pop_front();
        }
        errors.push_back(line);
    }
}

/// An FFmpeg error line as a status may show it.
fn clean(line: &str, url: &str) -> String {
    let mut line = line.trim();
    while let Some(rest) = line.strip_prefix('[') {
        match rest.split_once("] ") {
            Some((_, after)) => line = after.trim_start(),
            None => break,
        }
    }
    let mut line = line.replace(url, &shown_url(url));
    if let Some(password) = password_of(url) {
        line = line.replace(&password, "***");
    }
    line.chars().take(300).collect()
}

fn password_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (user, _) = authority.rsplit_once('@')?;
    let (_, password) = user.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_allows_only_its_protocols() {
        let rtsp = arguments("rtsp://cam/live", 5.0, Pace::Live).join(" ");
        assert!(rtsp.contains("-protocol_whitelist rtsp,rtsps,rtp,srtp,udp,tcp,tls"));
        assert!(rtsp.contains("-rtsp_transport tcp") && rtsp.contains("fps=5,"));
        assert!(!rtsp.contains("-re "));
        let file = arguments("/srv/door.mp4", 2.5, Pace::Live).join(" ");
        assert!(
            file.contains("-protocol_whitelist file -re -i /srv/door.mp4"),
            "{file}"
        );
        let fast = arguments("file:///srv/door.mp4", 1.0, Pace::AsDecoded).join(" ");
        assert!(
            fast.contains("-protocol_whitelist file -i /srv/door.mp4"),
            "{fast}"
        );
    }

    #[test]
    fn error_lines_lose_their_prefix_and_any_password() {
        let url = "rtsp://admin:s3cret@10.0.0.5/live";
        assert_eq!(
            clean(
                "[rtsp @ 0x55d1] rtsp://admin:s3cret@10.0.0.5/live: Connection refused",
                url
            ),
            "rtsp://admin:***@10.0.0.5/live: Connection refused"
        );
        assert_eq!(
            clean("[in#0 @ 0x1] [tcp @ 0x2] s3cret here", url),
            "*** here"
        );
    }
}
