//! How alike two faces are: the Euclidean distance of their vectors, and a confidence that maps
//! it monotonically onto 0–1 so that a watch list's threshold reads the same for every model.
//! The one definition the face engine, the face index and the matching all use.

/// Euclidean distance of two vectors of equal length.
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// The distance at which dlib calls two faces the same person (its LFW accuracy, 99.38 %, is
/// measured at this threshold): confidence 0.5.
const SAME_PERSON: f32 = 0.6;
/// How fast confidence falls around that point: one unit of this is a factor e in the odds.
const SPREAD: f32 = 0.06;

/// Confidence that two faces at `distance` are the same person: a logistic curve, 0.5 at
/// dlib's threshold of 0.6, falling as the distance grows. 0.75 is distance 0.53, 0.9 is 0.47;
/// the test photos of one person measure 0.32–0.43 apart (0.95–0.99), of two people 0.81–0.86
/// (0.01–0.03).
pub fn confidence(distance: f32) -> f32 {
    1.0 / (1.0 + ((distance - SAME_PERSON) / SPREAD).exp())
}

/// The distance at which [`confidence`] equals `confidence` (its inverse): a search for
/// faces above a confidence is a search for vectors within this distance.
pub fn distance_for(confidence: f32) -> f32 {
    let c = confidence.clamp(1e-6, 1.0 - 1e-6);
    SAME_PERSON + SPREAD * ((1.0 - c) / c).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_falls_with_distance_and_is_half_at_dlibs_threshold() {
        assert!((confidence(0.6) - 0.5).abs() < 1e-6);
        let mut last = 1.0;
        for step in 0..=200 {
            let c = confidence(step as f32 * 0.01);
            assert!(c <= last && (0.0..=1.0).contains(&c));
            last = c;
        }
        for c in [0.1, 0.5, 0.75, 0.9] {
            assert!((confidence(distance_for(c)) - c).abs() < 1e-4);
        }
        assert!((distance_for(0.75) - 0.534).abs() < 0.001);
    }

    #[test]
    fn distance_is_euclidean() {
        assert_eq!(distance(&[0.0, 3.0], &[4.0, 0.0]), 5.0);
    }
}
