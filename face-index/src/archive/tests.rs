use super::*;
use crate::synthetic::Faces;

const DAY: i64 = SECONDS_PER_DAY;
/// 2026-12-01T00:00:00Z.
const START: i64 = 1_796_083_200;

/// `people` identities with `photos` faces each, spread over `days` days and 4 tags.
fn archive(people: usize, photos: usize, days: i64) -> (Archive, Vec<Vec<f32>>) {
    let mut faces = Faces::new(7, 128);
    let mut archive = Archive::new(128);
    let mut centres = Vec::new();
    let mut key = 0;
    for _ in 0..people {
        let centre = faces.identity();
        for _ in 0..photos {
            key += 1;
            archive
                .put(ArchivedFace {
                    key,
                    at: START + (key as i64 * 7_919) % (days * DAY),
                    tag: (key % 4) as u32,
                    code: code(&faces.photo(&centre)),
                })
                .unwrap();
        }
        centres.push(centre);
    }
    (archive, centres)
}

/// What a plain scan of the codes finds, closest first (equally close: the lower key first).
fn exact(archive: &Archive, query: &[f32], scope: &Scope, max: f32, limit: usize) -> Vec<u64> {
    let query = code(query);
    let bound = (max * QUANTA_PER_UNIT).powi(2);
    let mut all: Vec<(i64, u64)> = archive
        .days
        .values()
        .flat_map(|day| (0..day.keys.len()).map(move |row| (day, row)))
        .filter(|(day, row)| (scope.from..scope.until).contains(&day.times[*row]))
        .filter(|(day, row)| {
            scope
                .tags
                .as_ref()
                .is_none_or(|t| t.contains(&day.tags[*row]))
        })
        .map(|(day, row)| {
            let v = &day.codes[row * 128..(row + 1) * 128];
            let d: i64 = v
                .iter()
                .zip(&query)
                .map(|(a, b)| (i64::from(*a) - i64::from(*b)).pow(2))
                .sum();
            (d, day.keys[row])
        })
        .filter(|(d, _)| *d as f32 <= bound)
        .collect();
    all.sort();
    all.into_iter().take(limit).map(|(_, k)| k).collect()
}

fn keys(found: &Found) -> Vec<u64> {
    found.neighbours.iter().map(|n| n.key).collect()
}

#[test]
fn a_search_finds_what_an_exact_scan_finds_on_one_thread_and_on_many() {
    // 2 000 faces (one thread) and 60 000 (split over threads).
    for (people, photos) in [(200, 10), (3_000, 20)] {
        let (archive, centres) = archive(people, photos, 10);
        let everything = Scope {
            from: START,
            until: START + 10 * DAY,
            tags: None,
        };
        for (person, centre) in centres.iter().enumerate().take(5) {
            let found = archive.search(centre, &everything, 0.6, 50).unwrap();
            assert_eq!(found.compared, people * photos);
            assert_eq!(keys(&found), exact(&archive, centre, &everything, 0.6, 50));
            // The person's own photos come first.
            let mut first = keys(&found)[..photos].to_vec();
            first.sort();
            let own: Vec<u64> = (1..=photos as u64)
                .map(|k| (person * photos) as u64 + k)
                .collect();
            assert_eq!(first, own);
            // The distance is the vector's, to the quantisation's step.
            let d = found.neighbours[0].distance;
            let key = found.neighbours[0].key;
            let at = START + (key as i64 * 7_919) % (10 * DAY);
            let stored = decode(archive.get(key, at).unwrap());
            assert!(
                (d - domain::similarity::distance(&stored, &decode(&code(centre)))).abs() < 1e-3
            );
        }
    }
}

#[test]
fn the_time_range_and_the_tags_decide_what_is_compared() {
    let (archive, centres) = archive(300, 12, 6);
    let scope = Scope {
        from: START + DAY + 3_600,
        until: START + 4 * DAY - 60,
        tags: Some(vec![1, 3]),
    };
    for centre in centres.iter().take(10) {
        let found = archive.search(centre, &scope, 0.9, 1_000).unwrap();
        let want = exact(&archive, centre, &scope, 0.9, 1_000);
        assert!(!want.is_empty());
        assert_eq!(keys(&found), want);
        // Only the faces in scope count as compared.
        assert_eq!(
            found.compared,
            exact(&archive, centre, &scope, 10.0, usize::MAX).len()
        );
    }
    // A range that ends where it starts, or before, compares nothing.
    let empty = Scope {
        from: START + DAY,
        until: START + DAY,
        tags: None,
    };
    assert_eq!(
        archive.search(&centres[0], &empty, 2.0, 10).unwrap(),
        Found::default()
    );
}

#[test]
fn a_face_put_again_replaces_itself_and_old_days_are_forgotten() {
    let mut faces = Faces::new(1, 128);
    let (a, b) = (faces.identity(), faces.identity());
    let mut archive = Archive::new(128);
    let face = |key, at, v: &[f32]| ArchivedFace {
        key,
        at,
        tag: 0,
        code: code(v),
    };
    archive.put(face(1, START + 10, &a)).unwrap();
    archive.put(face(2, START + DAY + 10, &a)).unwrap();
    // A better shot of event 1: now it is b.
    archive.put(face(1, START + 20, &b)).unwrap();
    assert_eq!(archive.len(), 2);
    assert_eq!(archive.get(1, START + 20), Some(code(&b).as_slice()));
    let all = Scope {
        from: START,
        until: START + 2 * DAY,
        tags: None,
    };
    assert_eq!(keys(&archive.search(&a, &all, 0.5, 10).unwrap()), vec![2]);
    assert_eq!(keys(&archive.search(&b, &all, 0.5, 10).unwrap()), vec![1]);
    archive.forget_before(START + DAY + 5);
    assert_eq!(archive.len(), 1);
    assert_eq!(archive.get(1, START + 20), None);
    assert!(archive
        .put(ArchivedFace {
            code: vec![0; 3],
            ..face(3, START, &a)
        })
        .is_err());
    assert!(archive.search(&[0.0; 3], &all, 0.5, 10).is_err());
}

#[test]
fn the_work_is_split_whole_and_evenly() {
    let (archive, _) = archive(100, 50, 7);
    let scope = Scope {
        from: START,
        until: START + 7 * DAY,
        tags: None,
    };
    let slices = archive.slices(&scope);
    for parts in [1, 2, 3, 8] {
        let split = split(&slices, parts);
        let lengths: Vec<usize> = split
            .iter()
            .map(|p| p.iter().map(|s| s.rows.len()).sum())
            .collect();
        assert_eq!(lengths.iter().sum::<usize>(), 5_000);
        assert!(split.len() <= parts);
        assert!(lengths.iter().max().unwrap() - lengths.iter().min().unwrap() <= parts);
    }
}
