//! P13: what watching a camera costs. The demo video (a person passing twice and a stranger
//! once) decoded by FFmpeg and analysed as a camera's frames are (faces found where something
//! moved, followed, scored, the best shots described), as fast as it goes, against FFmpeg
//! decoding the same stream to the same raw frames alone, in the same run. Costs are CPU time
//! (this process and FFmpeg's), so the figures are per core whatever else the machine runs.

use crate::cluster::BenchResult;
use crate::Args;
use domain::cameras::LeasedCamera;
use engine::video::analysis::{Analyser, Output};
use engine::video::source::{Pace, Source, StreamError};
use face_engine::Engine;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The people the demo video shows: one person twice, a stranger once.
const DEMO_TRACKS: usize = 3;

#[derive(Debug, Serialize)]
pub struct VideoCost {
    /// The stream's frame size, `1280x720`.
    pub size: String,
    /// Frames analysed a second of video (the camera's setting).
    pub fps: f32,
    pub video_seconds: f64,
    pub frames: u64,
    /// The tracks the analysis made (the demo video shows three).
    pub tracks: usize,
    pub analysis_cpu_seconds: f64,
    pub decode_cpu_seconds: f64,
    /// Frames a core gets through in a second: decoded and analysed, and decoded alone.
    pub analysed_per_core_second: f64,
    pub decoded_per_core_second: f64,
    /// The analysis' CPU over decoding's alone.
    pub ratio: f64,
    /// The share of one core a camera of this size takes at `fps` (decoding included).
    pub core_share: f64,
}

/// P13 on each `(size, clip)`.
pub async fn video_costs(
    models: &Path,
    ffmpeg: &Path,
    clips: &[(String, PathBuf)],
    fps: f32,
) -> BenchResult<Vec<VideoCost>> {
    // One thread, as each camera's analysis runs on a thread of its own.
    let engine = Arc::new(
        Engine::load(models, 1).map_err(|e| format!("{e}: run scripts/install-tools.sh first"))?,
    );
    let mut costs = Vec::new();
    for (size, clip) in clips {
        if !clip.exists() {
            return Err(format!(
                "{} is missing: run scripts/demo-video.sh --size {size}",
                clip.display()
            )
            .into());
        }
        let url = clip.to_string_lossy().to_string();
        let decode = cpu_of(|| async { read(ffmpeg, &url, fps, |_| {}).await }).await?;
        let engine = engine.clone();
        let mut tracks = 0;
        let analysis = cpu_of(|| async {
            let mut analyser = Analyser::new(
                engine,
                camera(&url, fps),
                face_engine::MODEL_NAME.into(),
                "bench.".into(),
            );
            let start = chrono::Utc::now();
            let mut out = Vec::new();
            let mut frames = 0u64;
            let read = read(ffmpeg, &url, fps, |frame| {
                let at =
                    start + chrono::Duration::milliseconds((frames as f32 * 1000.0 / fps) as i64);
                analyser.frame(frame, at, &mut out);
                frames += 1;
            })
            .await;
            analyser.finish(&mut out);
            tracks = out
                .iter()
                .filter(|o| matches!(o, Output::Sighting(s) if s.ended))
                .count();
            read
        })
        .await?;
        if tracks != DEMO_TRACKS {
            return Err(format!(
                "the analysis of {} made {tracks} tracks, not the video's {DEMO_TRACKS}",
                clip.display()
            )
            .into());
        }
        let frames = analysis.value;
        let video_seconds = frames as f64 / f64::from(fps);
        costs.push(VideoCost {
            size: size.clone(),
            fps,
            video_seconds,
            frames,
            tracks,
            analysis_cpu_seconds: analysis.seconds,
            decode_cpu_seconds: decode.seconds,
            analysed_per_core_second: frames as f64 / analysis.seconds,
            decoded_per_core_second: decode.value as f64 / decode.seconds,
            ratio: analysis.seconds / decode.seconds,
            core_share: analysis.seconds / video_seconds,
        });
    }
    Ok(costs)
}

/// P13 on each of `--video-sizes`.
pub(super) async fn p13(args: &Args) -> BenchResult<Vec<VideoCost>> {
    let clips: Vec<(String, std::path::PathBuf)> = args
        .video_sizes
        .iter()
        .map(|size| {
            let name = if size == "1280x720" {
                "people.mp4".to_string()
            } else {
                format!("people-{size}.mp4")
            };
            (size.clone(), args.video_clips.join(name))
        })
        .collect();
    video_costs(&args.face_models, &args.ffmpeg, &clips, args.video_fps).await
}

/// P13–P15 alone.
pub async fn video_only(args: &Args) -> BenchResult<()> {
    let p13 = p13(args).await?;
    println!("{}", serde_json::to_string_pretty(&p13)?);
    let photos = crate::data::Photos::new(args.seed).await?;
    let p14_p15 = super::cameras::cameras(&super::cluster(args)?, &photos, args).await?;
    println!("{}", serde_json::to_string_pretty(&p14_p15)?);
    Ok(())
}

/// Every frame of `url` at `fps`, as fast as FFmpeg decodes it, given to `each`; their count.
async fn read(
    ffmpeg: &Path,
    url: &str,
    fps: f32,
    mut each: impl FnMut(&image::RgbImage),
) -> BenchResult<u64> {
    let mut source = Source::open(ffmpeg, url, fps, Pace::AsDecoded)?;
    let mut frames = 0;
    loop {
        match source.next_frame().await {
            Ok(frame) => {
                each(&frame);
                frames += 1;
            }
            // FFmpeg has exited and been waited for: its CPU time is counted.
            Err(StreamError::Ended) => return Ok(frames),
            Err(e) => return Err(e.into()),
        }
    }
}

struct Spent<T> {
    value: T,
    seconds: f64,
}

/// The CPU time (user and system, this process and its finished children) `work` took.
async fn cpu_of<T, F, Fut>(work: F) -> BenchResult<Spent<T>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = BenchResult<T>>,
{
    let before = cpu_seconds();
    let value = work().await?;
    Ok(Spent {
        value,
        seconds: cpu_seconds() - before,
    })
}

fn cpu_seconds() -> f64 {
    let of = |who| {
        // SAFETY: getrusage writes the struct it is given and nothing else.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut usage) };
        let time = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        time(usage.ru_utime) + time(usage.ru_stime)
    };
    of(libc::RUSAGE_SELF) + of(libc::RUSAGE_CHILDREN)
}

fn camera(url: &str, fps: f32) -> LeasedCamera {
    LeasedCamera {
        id: 1,
        name: "bench".into(),
        url: url.into(),
        fps,
        min_face: domain::cameras::DEFAULT_MIN_FACE,
        min_quality: domain::cameras::DEFAULT_MIN_QUALITY,
        region: None,
        lease: 1,
        revision: chrono::Utc::now(),
    }
}
