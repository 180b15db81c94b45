//! What a camera's frames show, frame by frame: the faces in the parts of the frame worth
//! searching ([`regions`](super::regions)), those under the camera's gates dropped, each
//! followed across frames ([`tracker`](super::tracker)) with its best shot kept, and the
//! sightings to post: a track's first shot that passes the gates at once, a clearly better
//! one now and then, and its best when it ends. Blocking (tens of milliseconds a frame): it
//! runs on a thread of its camera's own.

use super::regions::{grown, iou, overlap, to_search, whole, Motion};
use super::tracker::{Track, Tracker};
use crate::images::jpeg_within;
use chrono::{DateTime, Utc};
use domain::cameras::{LeasedCamera, Region, Shot, Sighting};
use domain::faces::FaceBox;
use face_engine::{quality::quality, Engine, Found, DETECTOR_WINDOW};
use image::{DynamicImage, RgbImage};
use std::sync::Arc;

/// How often a frame is searched whole (elsewhere, only what moved and the faces followed are
/// searched; the first frame is all "moved"), for someone the detector missed while they moved
/// and who then stood still. A whole 720p frame costs as much as a dozen frames of someone
/// walking by: searched every 3 s, a camera at 5 frames a second took 30 % of a core, every
/// 10 s 24 % (P13).
const WHOLE_EVERY: chrono::Duration = chrono::Duration::milliseconds(10000);
/// Two faces found whose boxes overlap this much (intersection over union) are one.
const SAME_FACE: f32 = 0.3;
/// How often a snapshot of the latest frame is made for the camera's page.
const SNAPSHOT_EVERY: chrono::Duration = chrono::Duration::milliseconds(2000);
/// The longest side of a snapshot, and of the frame kept with an event.
const SNAPSHOT_SIDE: u32 = 640;
const FRAME_SIDE: u32 = 320;
/// The longest side of the face kept with an event (as a dossier photo's thumbnail).
const FACE_SIDE: u32 = 160;

/// The best picture of a track so far: the face with a margin (to describe, and to show), the
/// frame it was in (small), and its vector once described.
pub struct Picture {
    quality: f32,
    /// The face's box in the frame, and in `face`.
    in_frame: FaceBox,
    in_face: FaceBox,
    face: RgbImage,
    frame: RgbImage,
    vector: Option<Vec<f32>>,
}

/// What the analysis gives the camera's task.
#[derive(Debug)]
pub enum Output {
    Sighting(Box<Sighting>),
    /// The latest frame, a JPEG.
    Snapshot(Vec<u8>),
}

/// A frame's count of work, for the camera's status.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Faces found (after the gates of size and region).
    pub faces: usize,
    /// Tracks started.
    pub new_tracks: usize,
}

/// One camera's analysis, from frame to frame.
pub struct Analyser {
    engine: Arc<Engine>,
    camera: LeasedCamera,
    model: String,
    motion: Motion,
    tracker: Tracker<Picture>,
    size: (u32, u32),
    last_whole: Option<DateTime<Utc>>,
    last_snapshot: Option<DateTime<Utc>>,
}

impl Analyser {
    /// The analysis of `camera`, its vectors of `model`; its tracks' ids begin with `prefix`.
    pub fn new(engine: Arc<Engine>, camera: LeasedCamera, model: String, prefix: String) -> Self {
        Self {
            engine,
            camera,
            model,
            motion: Motion::default(),
            tracker: Tracker::new(prefix),
            size: (0, 0),
            last_whole: None,
            last_snapshot: None,
        }
    }

    /// Analyses a frame seen at `at`.
    pub fn frame(&mut self, frame: &RgbImage, at: DateTime<Utc>, out: &mut Vec<Output>) -> Counts {
        if frame.dimensions() != self.size {
            // Boxes of another size of frame are no longer where they were.
            self.size = frame.dimensions();
            let all = self.tracker.end_all();
            self.end(all, out);
            self.last_whole = None;
        }
        let watched = watched(frame, self.camera.region);
        let min_face = self.camera.min_face.max(1) as u32;
        let mut found: Vec<Found> = Vec::new();
        for (area, scale) in self.areas(frame, at, &watched, min_face) {
            for face in self.find(frame, &area, scale) {
                // Areas may overlap: a face found in two is one face.
                if !found
                    .iter()
                    .any(|f| iou(&f.bounds, &face.bounds) > SAME_FACE)
                {
                    found.push(face);
                }
            }
        }
        found.retain(|f| f.bounds.height >= min_face && centre_inside(&f.bounds, &watched));
        let boxes: Vec<FaceBox> = found.iter().map(|f| f.bounds).collect();
        let tracks_before = self.tracker.tracks().len();
        let of_face = self.tracker.observe(at, &boxes);
        let counts = Counts {
            faces: found.len(),
            new_tracks: self.tracker.tracks().len() - tracks_before,
        };
        for (f, track) in found.iter().zip(of_face) {
            let q = quality(frame, &f.bounds, Some(&f.landmarks)).score();
            if q >= self.camera.min_quality {
                self.tracker.offer(track, q, || picture(frame, f.bounds, q));
            }
        }
        for t in 0..self.tracker.tracks().len() {
            if self.tracker.tracks()[t].wants_post(at) {
                let track = self.tracker.track_mut(t);
                if let Some(s) = sighting(&self.engine, &self.camera, &self.model, track, false) {
                    out.push(Output::Sighting(Box::new(s)));
                }
                track.posted(at);
            }
        }
        let ended = self.tracker.ended(at);
        self.end(ended, out);
        if self
            .last_snapshot
            .is_none_or(|last| at - last >= SNAPSHOT_EVERY)
        {
            self.last_snapshot = Some(at);
            if let Ok(jpeg) = jpeg_within(&DynamicImage::ImageRgb8(frame.clone()), SNAPSHOT_SIDE) {
                out.push(Output::Snapshot(jpeg));
            }
        }
        counts
    }

    /// No frame came: the tracks unseen for long enough end all the same.
    pub fn tick(&mut self, at: DateTime<Utc>, out: &mut Vec<Output>) {
        let ended = self.tracker.ended(at);
        self.end(ended, out);
    }

    /// The camera stops: every track ends now.
    pub fn finish(&mut self, out: &mut Vec<Output>) {
        let all = self.tracker.end_all();
        self.end(all, out);
    }

    fn end(&self, tracks: Vec<Track<Picture>>, out: &mut Vec<Output>) {
        for mut track in tracks {
            if let Some(s) = sighting(&self.engine, &self.camera, &self.model, &mut track, true) {
                out.push(Output::Sighting(Box::new(s)));
            }
        }
    }

    /// Where to search `frame` for faces, and at what scale: the whole of what is watched
    /// now and then, else what moved, at the scale that finds the camera's smallest face,
    /// and around each face followed, at the scale that finds it again (down to two thirds of
    /// its size, as someone walks away), which costs a fraction of the first for a face
    /// larger than the smallest (a face twice as tall, a third). A part that moved within a
    /// followed face's surroundings is that face moving: it is not searched a second time.
    fn areas(
        &mut self,
        frame: &RgbImage,
        at: DateTime<Utc>,
        watched: &FaceBox,
        min_face: u32,
    ) -> Vec<(FaceBox, f64)> {
        let scale_for = |face: u32| (f64::from(DETECTOR_WINDOW) / f64::from(face)).clamp(0.25, 2.0);
        let base = scale_for(min_face);
        let moved = self.motion.moved(frame);
        if self.last_whole.is_none_or(|last| at - last >= WHOLE_EVERY) {
            self.last_whole = Some(at);
            return vec![(*watched, base)];
        }
        let followed: Vec<(FaceBox, f64)> = self
            .tracker
            .tracks()
            .iter()
            .map(|t| {
                let around = grown(&t.bounds, t.bounds.height, watched);
                (around, scale_for((t.bounds.height * 2 / 3).max(min_face)))
            })
            .collect();
        let unexplained: Vec<FaceBox> = moved
            .iter()
            .map(|b| grown(b, min_face / 2, watched))
            .filter(|b| !followed.iter().any(|(around, _)| mostly_within(b, around)))
            .collect();
        let mut areas: Vec<(FaceBox, f64)> = to_search(unexplained, watched)
            .into_iter()
            .map(|a| (a, base))
            .collect();
        if areas.first().is_some_and(|(a, _)| a == watched) {
            return areas;
        }
        areas.extend(followed);
        areas
    }

    /// The faces in `area` of `frame`, in the frame's pixels.
    fn find(&self, frame: &RgbImage, area: &FaceBox, scale: f64) -> Vec<Found> {
        if *area == whole(frame) {
            return self.engine.find(frame, scale);
        }
        let part = image::imageops::crop_imm(frame, area.left, area.top, area.width, area.height)
            .to_image();
        let (dx, dy) = (area.left, area.top);
        self.engine
            .find(&part, scale)
            .into_iter()
            .map(|mut f| {
                f.bounds.left += dx;
                f.bounds.top += dy;
                for p in &mut f.landmarks {
                    *p = (p.0 + dx as f32, p.1 + dy as f32);
                }
                f
            })
            .collect()
    }
}

/// The part of the frame the camera watches, in its pixels.
fn watched(frame: &RgbImage, region: Option<Region>) -> FaceBox {
    let Some(r) = region else { return whole(frame) };
    let (w, h) = (frame.width() as f32, frame.height() as f32);
    let left = (r.left * w).round().clamp(0.0, w - 1.0) as u32;
    let top = (r.top * h).round().clamp(0.0, h - 1.0) as u32;
    let width = ((r.width * w).round() as u32).clamp(1, frame.width() - left);
    let height = ((r.height * h).round() as u32).clamp(1, frame.height() - top);
    FaceBox {
        left,
        top,
        width,
        height,
    }
}

/// Whether most (four fifths) of `b` lies within `area`.
fn mostly_within(b: &FaceBox, area: &FaceBox) -> bool {
    let inside = overlap(b, area).map_or(0, |o| u64::from(o.width) * u64::from(o.height));
    inside * 5 >= u64::from(b.width) * u64::from(b.height) * 4
}

fn centre_inside(b: &FaceBox, area: &FaceBox) -> bool {
    let (x, y) = (b.left + b.width / 2, b.top + b.height / 2);
    (area.left..area.left + area.width).contains(&x)
        && (area.top..area.top + area.height).contains(&y)
}

/// A shot of the face at `bounds`: the face with half its size around it, and the frame small.
fn picture(frame: &RgbImage, bounds: FaceBox, quality: f32) -> Picture {
    let margin = FaceBox {
        left: bounds.left.saturating_sub(bounds.width / 2),
        top: bounds.top.saturating_sub(bounds.height / 2),
        width: 0,
        height: 0,
    };
    let right = (bounds.left + bounds.width + bounds.width / 2).min(frame.width());
    let bottom = (bounds.top + bounds.height + bounds.height / 2).min(frame.height());
    let face = image::imageops::crop_imm(
        frame,
        margin.left,
        margin.top,
        right - margin.left,
        bottom - margin.top,
    )
    .to_image();
    Picture {
        quality,
        in_frame: bounds,
        in_face: FaceBox {
            left: bounds.left - margin.left,
            top: bounds.top - margin.top,
            width: bounds.width,
            height: bounds.height,
        },
        face,
        frame: image::imageops::thumbnail(
            frame,
            FRAME_SIDE,
            FRAME_SIDE * frame.height() / frame.width().max(1),
        ),
        vector: None,
    }
}

/// The sighting of `track`'s best shot (described now if it was not yet); none if no shot
/// of it passed the gates, or the face cannot be described.
fn sighting(
    engine: &Engine,
    camera: &LeasedCamera,
    model: &str,
    track: &mut Track<Picture>,
    ended: bool,
) -> Option<Sighting> {
    let (_, best) = track.best.as_mut()?;
    if best.vector.is_none() {
        let vector = engine.describe(&best.face, &best.in_face);
        if vector.len() != face_engine::VECTOR_LENGTH {
            tracing::warn!(
                camera = camera.id,
                "a face of the stream could not be described"
            );
            return None;
        }
        best.vector = Some(vector);
    }
    let jpeg = |picture: &RgbImage, side| {
        jpeg_within(&DynamicImage::ImageRgb8(picture.clone()), side).ok()
    };
    Some(Sighting {
        camera: camera.id,
        track: track.id.clone(),
        first_at: track.first_at,
        last_at: track.last_at,
        ended,
        shot: Shot {
            quality: best.quality,
            face_box: best.in_frame,
            model: model.to_string(),
            vector: Shot::vector_bytes(best.vector.as_deref().unwrap_or_default()),
            face_jpeg: jpeg(&best.face, FACE_SIDE)?,
            frame_jpeg: jpeg(&best.frame, FRAME_SIDE)?,
        },
    })
}
