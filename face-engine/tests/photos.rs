//! The engine on real photos (face_recognition's test photos, fetched by scripts/face-data.sh):
//! what a user relies on when a watch list's threshold decides who is a hit.

use face_engine::{confidence, distance, Engine, MODEL_FILES};
use image::RgbImage;
use std::path::PathBuf;
use std::sync::OnceLock;

fn data(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(dir)
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::load(&data("face-models"), 2).expect("run scripts/face-data.sh"))
}

fn photo(name: &str) -> RgbImage {
    image::open(data("test-photos").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .to_rgb8()
}

fn vector_of(name: &str) -> Vec<f32> {
    let faces = engine().analyse(&photo(name));
    assert_eq!(faces.len(), 1, "{name} shows one face");
    assert_eq!(faces[0].vector.len(), face_engine::VECTOR_LENGTH);
    faces[0].vector.clone()
}

#[test]
fn photos_of_one_person_match_above_075_and_of_two_people_do_not() {
    let obama = ["obama.jpg", "obama2.jpg", "obama3.jpg", "32bit.png"].map(vector_of);
    let biden = vector_of("biden.jpg");
    for (i, a) in obama.iter().enumerate() {
        for b in &obama[i + 1..] {
            let d = distance(a, b);
            eprintln!(
                "same person: distance {d:.3}, confidence {:.3}",
                confidence(d)
            );
            assert!(confidence(d) > 0.75, "same person at distance {d}");
        }
        let d = distance(a, &biden);
        eprintln!(
            "two people: distance {d:.3}, confidence {:.3}",
            confidence(d)
        );
        assert!(confidence(d) < 0.25, "different people at distance {d}");
    }
}

#[test]
fn two_people_side_by_side_are_two_faces_and_a_blank_picture_none() {
    let (left, right) = (photo("obama.jpg"), photo("biden.jpg"));
    let mut both = RgbImage::new(
        left.width() + right.width(),
        left.height().max(right.height()),
    );
    image::imageops::replace(&mut both, &left, 0, 0);
    image::imageops::replace(&mut both, &right, i64::from(left.width()), 0);
    let faces = engine().detect(&both);
    assert_eq!(faces.len(), 2);
    // Each box lies in its own half.
    let mut lefts: Vec<u32> = faces.iter().map(|f| f.left).collect();
    lefts.sort();
    assert!(lefts[0] < left.width() && lefts[1] >= left.width());

    assert!(engine()
        .detect(&RgbImage::from_pixel(640, 480, image::Rgb([200, 180, 160])))
        .is_empty());
    assert!(engine().detect(&RgbImage::new(1, 1)).is_empty());
}

#[test]
fn a_model_file_that_is_missing_or_altered_is_named() {
    let dir = std::env::temp_dir().join(format!("faces-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let error = Engine::load(&dir, 1)
        .err()
        .expect("no models, no engine")
        .to_string();
    assert!(
        error.contains(MODEL_FILES[0].name) && error.contains("missing"),
        "{error}"
    );
    std::fs::write(dir.join(MODEL_FILES[0].name), b"not a model").unwrap();
    let error = Engine::load(&dir, 1)
        .err()
        .expect("a corrupt model")
        .to_string();
    assert!(
        error.contains(MODEL_FILES[0].name) && error.contains("SHA-256"),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
