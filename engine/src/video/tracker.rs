//! Following each face across a camera's frames: a face found near where a face was in the
//! last frames is the same person (a track); a track ends when its face has not been seen for
//! [`LINGER`], or when it has lasted [`LONGEST`] (someone who stays makes one event a
//! minute, not one for the day). Each track keeps its best shot. Pure: the frames' times come
//! from the caller, so that tests can play any sequence.

use super::regions::iou;
use chrono::{DateTime, Utc};
use domain::faces::FaceBox;

/// How long a face may go unseen (turned away, hidden, missed by the detector) and still be
/// the same track when it is seen again.
pub const LINGER: chrono::Duration = chrono::Duration::milliseconds(2000);
/// The longest a track lasts; someone still there after it starts a new one.
pub const LONGEST: chrono::Duration = chrono::Duration::seconds(60);
/// How much better (in quality, 0–1) a shot must be than the one last posted to be posted too.
pub const BETTER_BY: f32 = 0.05;
/// The least time between two posts of one track, but for its last.
pub const POST_EVERY: chrono::Duration = chrono::Duration::milliseconds(1000);
/// Boxes that overlap this much (intersection over union) in consecutive frames are one face.
const SAME_FACE: f32 = 0.2;

/// A person followed across frames, with the best shot of them `S`.
#[derive(Debug)]
pub struct Track<S> {
    pub id: String,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Where the face was last seen.
    pub bounds: FaceBox,
    /// The best shot that passed the camera's gates, and its quality.
    pub best: Option<(f32, S)>,
    /// The quality of the shot last posted, and when.
    posted: Option<(f32, DateTime<Utc>)>,
}

impl<S> Track<S> {
    /// Whether its best shot is worth a post now: the first that passed the gates at once (a
    /// match is announced as soon as it is seen), a clearly better one at most every
    /// [`POST_EVERY`].
    pub fn wants_post(&self, at: DateTime<Utc>) -> bool {
        match (&self.best, self.posted) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some((quality, _)), Some((posted, posted_at))) => {
                *quality >= posted + BETTER_BY && at - posted_at >= POST_EVERY
            }
        }
    }

    /// Notes that its best shot was posted at `at`.
    pub fn posted(&mut self, at: DateTime<Utc>) {
        if let Some((quality, _)) = &self.best {
            self.posted = Some((*quality, at));
        }
    }

    /// Whether the server has seen its best shot already.
    pub fn best_posted(&self) -> bool {
        matches!((&self.best, self.posted), (Some((q, _)), Some((p, _))) if *q <= p)
    }
}

/// The tracks of one camera.
pub struct Tracker<S> {
    tracks: Vec<Track<S>>,
    /// What every track id of this tracker starts with: unique to its camera's lease and
    /// start, so that ids never repeat, whichever worker follows the camera.
    prefix: String,
    next: u64,
}

impl<S> Tracker<S> {
    pub fn new(prefix: String) -> Self {
        Self {
            tracks: Vec::new(),
            prefix,
            next: 0,
        }
    }

    pub fn tracks(&self) -> &[Track<S>] {
        &self.tracks
    }

    pub fn track_mut(&mut self, index: usize) -> &mut Track<S> {
        &mut self.tracks[index]
    }

    /// The faces of a frame seen at `at`: each is given the track it continues (the one whose
    /// last box it overlaps most, each track taking one face), or a new one. Returns each
    /// face's track, by index into [`Self::tracks`].
    pub fn observe(&mut self, at: DateTime<Utc>, faces: &[FaceBox]) -> Vec<usize> {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (f, face) in faces.iter().enumerate() {
            for (t, track) in self.tracks.iter().enumerate() {
                let overlap = iou(face, &track.bounds);
                if overlap >= SAME_FACE || close(face, &track.bounds) {
                    pairs.push((overlap, f, t));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut of_face = vec![usize::MAX; faces.len()];
        let mut taken = vec![false; self.tracks.len()];
        for (_, f, t) in pairs {
            if of_face[f] == usize::MAX && !taken[t] {
                of_face[f] = t;
                taken[t] = true;
            }
        }
        for (f, face) in faces.iter().enumerate() {
            match of_face[f] {
                usize::MAX => {
                    self.next += 1;
                    self.tracks.push(Track {
                        id: format!("{}.{}", self.prefix, self.next),
                        first_at: at,
                        last_at: at,
                        bounds: *face,
                        best: None,
                        posted: None,
                    });
                    of_face[f] = self.tracks.len() - 1;
                }
                t => {
                    let track = &mut self.tracks[t];
                    track.last_at = at;
                    track.bounds = *face;
                }
            }
        }
        of_face
    }

    /// Offers a shot of track `index` of `quality`; it is kept if it is the track's best.
    /// `shot` is made only then (cutting a face out costs).
    pub fn offer(&mut self, index: usize, quality: f32, shot: impl FnOnce() -> S) {
        let track = &mut self.tracks[index];
        if track.best.as_ref().is_none_or(|(best, _)| quality > *best) {
            track.best = Some((quality, shot()));
        }
    }

    /// The tracks that end at `at`, taken out: unseen for [`LINGER`], or as long as
    /// [`LONGEST`].
    pub fn ended(&mut self, at: DateTime<Utc>) -> Vec<Track<S>> {
        let (ended, going) = std::mem::take(&mut self.tracks)
            .into_iter()
            .partition(|t| at - t.last_at > LINGER || t.last_at - t.first_at >= LONGEST);
        self.tracks = going;
        ended
    }

    /// Every track, taken out: the stream changed size, or the camera stops.
    pub fn end_all(&mut self) -> Vec<Track<S>> {
        std::mem::take(&mut self.tracks)
    }
}

/// Whether two boxes are near enough to be one face that moved fast between two frames: their
/// centres closer than half the larger one's height, and their sizes within a factor of 1.5.
fn close(a: &FaceBox, b: &FaceBox) -> bool {
    let centre = |b: &FaceBox| {
        (
            f64::from(b.left) + f64::from(b.width) / 2.0,
            f64::from(b.top) + f64::from(b.height) / 2.0,
        )
    };
    let ((ax, ay), (bx, by)) = (centre(a), centre(b));
    let size = f64::from(a.height.max(b.height));
    let ratio = f64::from(a.height.max(1)) / f64::from(b.height.max(1));
    (ax - bx).hypot(ay - by) < size / 2.0 && (1.0 / 1.5..=1.5).contains(&ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    fn face(left: u32) -> FaceBox {
        FaceBox {
            left,
            top: 100,
            width: 100,
            height: 100,
        }
    }

    #[test]
    fn a_face_that_moves_a_little_is_one_track_and_a_second_face_another() {
        let mut tracker: Tracker<()> = Tracker::new("7.1.ab".into());
        assert_eq!(tracker.observe(at(0), &[face(100)]), vec![0]);
        assert_eq!(
            tracker.observe(at(200), &[face(130), face(600)]),
            vec![0, 1]
        );
        // The two faces cross the same way as before.
        assert_eq!(
            tracker.observe(at(400), &[face(620), face(150)]),
            vec![1, 0]
        );
        let ids: Vec<&str> = tracker.tracks().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["7.1.ab.1", "7.1.ab.2"]);
        assert!(tracker
            .ended(at(400 + LINGER.num_milliseconds()))
            .is_empty());
    }

    #[test]
    fn a_track_ends_when_its_face_is_gone_and_someone_back_later_is_a_new_one() {
        let mut tracker: Tracker<()> = Tracker::new("c".into());
        tracker.observe(at(0), &[face(100)]);
        // Missed by the detector for a second: the same track.
        assert_eq!(tracker.observe(at(1000), &[face(110)]), vec![0]);
        let ended = tracker.ended(at(4000));
        assert_eq!(ended.len(), 1);
        assert_eq!((ended[0].first_at, ended[0].last_at), (at(0), at(1000)));
        tracker.observe(at(5000), &[face(110)]);
        assert_eq!(tracker.tracks()[0].id, "c.2");
    }

    #[test]
    fn someone_who_stays_makes_a_track_a_minute() {
        let mut tracker: Tracker<()> = Tracker::new("c".into());
        let mut ended = 0;
        for second in 0..=150 {
            tracker.observe(at(second * 1000), &[face(100)]);
            ended += tracker.ended(at(second * 1000)).len();
        }
        assert_eq!(ended, 2);
    }

    #[test]
    fn the_best_shot_is_kept_and_posted_first_then_when_clearly_better() {
        let mut tracker: Tracker<&str> = Tracker::new("c".into());
        tracker.observe(at(0), &[face(100)]);
        assert!(
            !tracker.tracks()[0].wants_post(at(0)),
            "no shot passed the gates yet"
        );
        tracker.offer(0, 0.5, || "first");
        assert!(tracker.tracks()[0].wants_post(at(0)));
        tracker.track_mut(0).posted(at(0));
        assert!(tracker.tracks()[0].best_posted());
        tracker.offer(0, 0.4, || panic!("a worse shot is not even cut out"));
        tracker.offer(0, 0.53, || "a little better");
        assert!(
            !tracker.tracks()[0].wants_post(at(2000)),
            "not better enough"
        );
        tracker.offer(0, 0.7, || "better");
        assert!(!tracker.tracks()[0].wants_post(at(500)), "too soon");
        assert!(tracker.tracks()[0].wants_post(at(1000)));
        assert_eq!(tracker.tracks()[0].best.as_ref().unwrap().1, "better");
        assert!(!tracker.tracks()[0].best_posted());
    }
}
