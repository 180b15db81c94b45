use super::*;
use crate::saved::header_path;
use crate::synthetic::Faces;
use domain::similarity::distance;

const DIMENSIONS: usize = 128;

/// `people` identities (groups 0, 1, …) with `photos` vectors each, keyed 1, 2, …; and the
/// identities' centres.
fn gallery(people: usize, photos: usize) -> (Vec<Entry>, Vec<Vec<f32>>) {
    let mut faces = Faces::new(7, DIMENSIONS);
    let centres: Vec<Vec<f32>> = (0..people).map(|_| faces.identity()).collect();
    let mut entries = Vec::new();
    for (group, centre) in centres.iter().enumerate() {
        for _ in 0..photos {
            entries.push(Entry {
                key: entries.len() as u64 + 1,
                group: group as u64,
                vector: faces.photo(centre),
            });
        }
    }
    (entries, centres)
}

fn exact_nearest(entries: &[Entry], query: &[f32]) -> u64 {
    entries
        .iter()
        .min_by(|a, b| distance(&a.vector, query).total_cmp(&distance(&b.vector, query)))
        .map(|e| e.key)
        .unwrap()
}

#[test]
fn synthetic_faces_are_spread_like_the_real_model() {
    let mut faces = Faces::new(1, DIMENSIONS);
    let (mut same, mut other) = (0.0, 0.0);
    for _ in 0..200 {
        let (a, b) = (faces.identity(), faces.identity());
        same += distance(&faces.photo(&a), &faces.photo(&a)) / 200.0;
        other += distance(&faces.photo(&a), &faces.photo(&b)) / 200.0;
    }
    assert!((0.33..0.43).contains(&same), "same person {same}");
    assert!((0.78..0.90).contains(&other), "two people {other}");
}

#[test]
fn finds_what_an_exact_scan_finds() {
    let (entries, centres) = gallery(2000, 3);
    let index = FaceIndex::build(DIMENSIONS, Tuning::default(), &entries, 2).unwrap();
    assert_eq!(index.len(), entries.len());
    let mut faces = Faces::new(99, DIMENSIONS);
    let mut agree = 0;
    for centre in centres.iter().take(300) {
        let query = faces.photo(centre);
        let candidates = index.nearest(&query, 16).unwrap();
        assert!(candidates
            .windows(2)
            .all(|w| w[0].distance <= w[1].distance));
        let best = candidates
            .iter()
            .map(|n| (n.key, distance(&entries[n.key as usize - 1].vector, &query)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        agree += usize::from(best.0 == exact_nearest(&entries, &query));
    }
    assert!(agree >= 297, "recall@1 {agree}/300");
}

#[test]
fn a_group_is_replaced_as_a_whole() {
    // Whole vectors in the graph, and projected ones (their whole vectors beside it).
    for people in [50, PROJECT_FROM / 2] {
        replaced_as_a_whole(people);
    }
}

/// Keys from here on are not in the gallery.
const NEW: u64 = 1 << 40;

fn replaced_as_a_whole(people: usize) {
    let (entries, _) = gallery(people, 2);
    let mut index = FaceIndex::build(DIMENSIONS, Tuning::default(), &entries, 1).unwrap();
    assert_eq!(index.projected.is_some(), entries.len() >= PROJECT_FROM);
    // Group 0 (keys 1 and 2) now has one photo, key NEW, that looks like key 11.
    let moved = entries[10].vector.clone();
    index.replace_group(0, &[(NEW, moved.clone())]).unwrap();
    assert_eq!(index.len(), entries.len() - 1);
    let hits = index.nearest(&moved, 2).unwrap();
    assert!(
        hits.iter().any(|n| n.key == NEW && n.distance < 1e-3),
        "{hits:?}"
    );
    assert!(index
        .nearest(&entries[0].vector, 3)
        .unwrap()
        .iter()
        .all(|n| n.key != 1));
    // A group emptied (a dossier deleted), twice.
    index.replace_group(0, &[]).unwrap();
    index.replace_group(0, &[]).unwrap();
    assert_eq!(index.len(), entries.len() - 2);
    assert!(index
        .nearest(&moved, 5)
        .unwrap()
        .iter()
        .all(|n| n.key != NEW));
    // Growing past the reserved capacity.
    for group in NEW + 1000..NEW + 3000 {
        index
            .replace_group(group, &[(group, entries[0].vector.clone())])
            .unwrap();
    }
    assert_eq!(index.len(), entries.len() - 2 + 2000);
    index.remove_key(NEW + 1500).unwrap();
    assert_eq!(index.len(), entries.len() - 3 + 2000);
    // What was added after the build is proposed, at its distance (its whole vector is kept).
    let added = index.nearest(&entries[0].vector, 5).unwrap();
    assert_eq!(added.len(), 5);
    assert!(
        added
            .iter()
            .all(|n| n.key >= NEW + 1000 && n.distance < 1e-3),
        "{added:?}"
    );
    assert!(matches!(
        index.replace_group(5, &[(9, vec![0.0; 3])]),
        Err(IndexError::Length {
            expected: 128,
            found: 3
        })
    ));
}

#[test]
fn a_saved_index_is_reloaded_only_where_it_fits() {
    // A small index holds whole vectors; one of PROJECT_FROM or more, projected ones.
    for people in [100, PROJECT_FROM] {
        saved_and_reloaded(people);
    }
}

fn saved_and_reloaded(people: usize) {
    let dir = std::env::temp_dir().join(format!("face-index-test-{}-{people}", std::process::id()));
    let file = dir.join("faces.usearch");
    let (entries, _) = gallery(people, 2);
    let index = FaceIndex::build(DIMENSIONS, Tuning::default(), &entries, 2).unwrap();
    assert_eq!(index.projected.is_some(), entries.len() >= PROJECT_FROM);
    let header = Header {
        model: "m".into(),
        dimensions: DIMENSIONS,
        database: "db-1".into(),
        revision: 42,
        count: index.len(),
    };
    index.save(&file, &header).unwrap();
    let load = |model: &str, database: &str| {
        FaceIndex::load(&file, model, DIMENSIONS, database, Tuning::default()).unwrap()
    };
    let (again, read) = load("m", "db-1").expect("reloaded");
    assert_eq!(read, header);
    assert_eq!(again.len(), entries.len());
    let probe = &entries[17].vector;
    assert_eq!(again.nearest(probe, 1).unwrap()[0].key, 18);
    // The groups came back too: replacing group 8 (keys 17, 18) removes both.
    let mut again = again;
    again.replace_group(8, &[]).unwrap();
    assert_eq!(again.len(), entries.len() - 2);
    assert!(load("other-model", "db-1").is_none());
    assert!(load("m", "db-2").is_none());
    // A file of the earlier layout (float vectors, a header without `format`) is rebuilt.
    let earlier = serde_json::to_vec(&header).unwrap();
    std::fs::write(header_path(&file), earlier).unwrap();
    assert!(load("m", "db-1").is_none());
    if index.projected.is_some() {
        // The whole vectors lost while the header stayed.
        index.save(&file, &header).unwrap();
        std::fs::remove_file(file.with_extension("usearch.wholes")).unwrap();
        assert!(load("m", "db-1").is_none());
    }
    // A graph torn by a crash while the old header stayed.
    index.save(&file, &header).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    assert!(load("m", "db-1").is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn vectors_are_quantised_to_the_nearest_step_and_clamped() {
    assert_eq!(
        quantise(&[0.0, 0.5, -0.25, 1.0, -1.0]),
        [0, 64, -32, 127, -127]
    );
    // Outside ±1 (no face descriptor is) the byte saturates instead of wrapping around.
    assert_eq!(quantise(&[3.0, -3.0, f32::NAN]), [127, -127, 0]);
}
