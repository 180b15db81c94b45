//! The video analysis on a real clip (scripts/demo-video.sh, made from the test photos): FFmpeg
//! decodes it, the engine finds, follows and describes the faces, frame after frame.

use chrono::{DateTime, Utc};
use domain::cameras::{LeasedCamera, Sighting};
use engine::video::analysis::{Analyser, Output};
use engine::video::source::{Pace, Source, StreamError};
use face_engine::{confidence, distance, Engine};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(path)
}

fn camera(url: &str, fps: f32) -> LeasedCamera {
    LeasedCamera {
        id: 1,
        name: "door".into(),
        url: url.into(),
        fps,
        min_face: domain::cameras::DEFAULT_MIN_FACE,
        min_quality: domain::cameras::DEFAULT_MIN_QUALITY,
        region: None,
        lease: 1,
        revision: Utc::now(),
    }
}

/// Every sighting of the clip at `fps`, its frames timed as they were in the clip.
async fn sightings_of(clip: &Path, fps: f32) -> Vec<Sighting> {
    let engine = Arc::new(Engine::load(&data("face-models"), 1).expect("run scripts/face-data.sh"));
    let url = clip.to_string_lossy().to_string();
    let mut analyser = Analyser::new(
        engine,
        camera(&url, fps),
        face_engine::MODEL_NAME.into(),
        "1.1.t".into(),
    );
    let mut source = Source::open(Path::new("ffmpeg"), &url, fps, Pace::AsDecoded).unwrap();
    let start: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
    let mut out = Vec::new();
    let mut frames = 0;
    loop {
        match source.next_frame().await {
            Ok(frame) => {
                let at =
                    start + chrono::Duration::milliseconds((frames as f32 * 1000.0 / fps) as i64);
                analyser.frame(&frame, at, &mut out);
                frames += 1;
            }
            Err(StreamError::Ended) => break,
            Err(e) => panic!("{e}"),
        }
    }
    analyser.finish(&mut out);
    assert!(frames >= (29.0 * fps) as usize, "{frames} frames");
    out.into_iter()
        .filter_map(|o| match o {
            Output::Sighting(s) => Some(*s),
            Output::Snapshot(_) => None,
        })
        .collect()
}

fn vector(s: &Sighting) -> Vec<f32> {
    s.shot.floats().unwrap()
}

#[tokio::test]
async fn a_person_seen_twice_and_a_stranger_once_are_three_tracks_each_ended_once() {
    let sightings = sightings_of(&data("demo-video/people.mp4"), 5.0).await;
    let ended: Vec<&Sighting> = sightings.iter().filter(|s| s.ended).collect();
    for s in &sightings {
        eprintln!(
            "{} {}..{} ended {} quality {:.2} box {:?}",
            s.track, s.first_at, s.last_at, s.ended, s.shot.quality, s.shot.face_box
        );
    }
    assert_eq!(ended.len(), 3, "one end per track");
    let mut tracks: Vec<&str> = sightings.iter().map(|s| s.track.as_str()).collect();
    tracks.dedup();
    assert_eq!(
        tracks.len(),
        3,
        "the sightings of a track come together: {tracks:?}"
    );
    // Each track is posted as soon as a face passes the gates, and ends with its best shot.
    let start: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
    let seconds = |at: DateTime<Utc>| (at - start).num_milliseconds() as f64 / 1000.0;
    let windows = [(1.0, 4.0), (9.0, 12.0), (17.0, 20.0)];
    for (s, (from, to)) in ended.iter().zip(windows) {
        assert!(
            (from..=from + 0.6).contains(&seconds(s.first_at)),
            "{} first at {}",
            s.track,
            seconds(s.first_at)
        );
        assert!(
            (to - 0.6..=to + 0.2).contains(&seconds(s.last_at)),
            "{} last at {}",
            s.track,
            seconds(s.last_at)
        );
        let first = sightings.iter().find(|x| x.track == s.track).unwrap();
        assert!(
            !first.ended && seconds(first.last_at) - from < 0.6,
            "posted at once"
        );
        assert!(s.shot.quality >= first.shot.quality);
        assert_eq!(&s.shot.face_jpeg[..2], &[0xFF, 0xD8]);
    }
    // The same person twice, a stranger once.
    let same = confidence(distance(&vector(ended[0]), &vector(ended[1])));
    let other = confidence(distance(&vector(ended[0]), &vector(ended[2])));
    assert!(same > 0.75, "the two passes of one person: {same}");
    assert!(other < 0.25, "two people: {other}");
}

#[tokio::test]
async fn a_url_that_is_not_a_stream_says_why() {
    let mut source = Source::open(
        Path::new("ffmpeg"),
        "/no/such/recording.mp4",
        5.0,
        Pace::AsDecoded,
    )
    .unwrap();
    match source.next_frame().await {
        Err(StreamError::Failed(message)) => assert!(message.contains("No such file"), "{message}"),
        other => panic!("{other:?}"),
    }
    let not_video = data("face-models/shape_predictor_5_face_landmarks.dat");
    let mut source = Source::open(
        Path::new("ffmpeg"),
        &not_video.to_string_lossy(),
        5.0,
        Pace::AsDecoded,
    )
    .unwrap();
    match source.next_frame().await {
        Err(StreamError::Failed(message)) => {
            assert!(
                message.contains("codec") || message.contains("Invalid data"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    match Source::open(Path::new("/no/ffmpeg"), "/x.mp4", 5.0, Pace::AsDecoded) {
        Err(StreamError::NoDecoder(_)) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("started a program that does not exist"),
    }
}
