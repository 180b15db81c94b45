//! Faces through the API, on real photos with the real engine: an upload gets its face's
//! vector, a search by another photo of the same person finds the dossier above the documented
//! threshold and a photo of someone else does not, photos without exactly one face are refused
//! with the count. The backfill, replication and start-up are in `stored`; the search page's
//! kept results in `page`.

mod page;
mod stored;

use crate::helpers::{multipart_request, test_photo, TestApp};
use serde_json::{json, Value};

/// The confidence a watch list's threshold of 0.75 asks for.
pub(super) const THRESHOLD: f64 = 0.75;

pub(super) async fn upload(app: &TestApp, dossier: i64, image: &[u8]) -> crate::helpers::Answer {
    app.upload(
        &app.operator,
        &[
            ("dossier_id", dossier.to_string().as_bytes()),
            ("image", image),
        ],
    )
    .await
}

pub(super) async fn search(app: &TestApp, fields: &[(&str, &[u8])]) -> crate::helpers::Answer {
    app.send(multipart_request("/api/faces/search", &app.user, fields))
        .await
}

/// Two photos side by side: two faces.
pub(super) fn two_people() -> Vec<u8> {
    let left = image::load_from_memory(&test_photo("obama.jpg"))
        .unwrap()
        .to_rgb8();
    let right = image::load_from_memory(&test_photo("biden.jpg"))
        .unwrap()
        .to_rgb8();
    let mut both = image::RgbImage::new(
        left.width() + right.width(),
        left.height().max(right.height()),
    );
    image::imageops::replace(&mut both, &left, 0, 0);
    image::imageops::replace(&mut both, &right, i64::from(left.width()), 0);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&both)
        .unwrap();
    jpeg
}

#[sqlx::test(migrations = "../migrations")]
async fn an_uploaded_photo_gets_its_face_and_a_search_finds_the_same_person_only(
    pool: sqlx::PgPool,
) {
    let app = TestApp::with_faces(pool).await;
    let list = app.watch_list("Wanted").await;
    let obama = app.dossier("Barack Obama", &[list]).await;
    let others = app.watch_list("Others").await;
    let biden = app.dossier("Joe Biden", &[others]).await;

    let photo = upload(&app, obama, &test_photo("obama.jpg")).await;
    assert_eq!(
        photo.status,
        200,
        "{}",
        String::from_utf8_lossy(&photo.body)
    );
    let photo = photo.json();
    assert_eq!(photo["has_vector"], true);
    assert_eq!(photo["face_model"], face_engine::MODEL_NAME);
    let face = &photo["face_box"];
    assert!(face["width"].as_u64().unwrap() > 100, "{face}");
    let sha = photo["sha256"].as_str().unwrap();
    let stored: Vec<f32> = sqlx::query_scalar("SELECT face_vector FROM photos")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 128);
    // The face's own thumbnail, not the whole photo's.
    let face_jpeg = app
        .get(&format!("/photos/{sha}/face"), Some(&app.user))
        .await;
    let thumb = app
        .get(&format!("/photos/{sha}/thumbnail"), Some(&app.user))
        .await;
    assert_eq!(face_jpeg.status, 200);
    assert_eq!(face_jpeg.headers["content-type"], "image/jpeg");
    assert_ne!(face_jpeg.body, thumb.body);
    assert_eq!(
        upload(&app, biden, &test_photo("biden.jpg")).await.status,
        200
    );

    // Another photo of the same man finds his dossier first, above the threshold.
    let found = search(&app, &[("image", &test_photo("obama2.jpg"))]).await;
    assert_eq!(
        found.status,
        200,
        "{}",
        String::from_utf8_lossy(&found.body)
    );
    let found = found.json();
    assert_eq!(found["compared"], 2);
    let faces = found["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1);
    let best = &faces[0]["matches"][0];
    assert_eq!(best["dossier_id"], obama, "{found}");
    assert_eq!(best["name"], "Barack Obama");
    assert_eq!(best["lists"], json!(["Wanted"]));
    assert!(best["confidence"].as_f64().unwrap() > THRESHOLD, "{best}");

    // A photo of someone else finds nobody above the threshold.
    let other = search(
        &app,
        &[
            ("image", &test_photo("biden.jpg")),
            ("min_confidence", b"0.75"),
            ("watch_list", list.to_string().as_bytes()),
        ],
    )
    .await
    .json();
    assert_eq!(other["faces"][0]["matches"], json!([]), "{other}");
    // Without the list filter Biden finds himself, and Obama below the threshold if at all.
    let himself = search(&app, &[("image", &test_photo("biden.jpg"))])
        .await
        .json();
    let matches = himself["faces"][0]["matches"].as_array().unwrap();
    assert_eq!(matches[0]["dossier_id"], biden);
    assert!(matches
        .iter()
        .all(|m| m["dossier_id"] != obama || m["confidence"].as_f64().unwrap() < THRESHOLD));

    // A group photo: each face with its own matches.
    let group = search(&app, &[("image", &two_people())]).await.json();
    let faces = group["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 2);
    let firsts: Vec<&Value> = faces
        .iter()
        .map(|f| &f["matches"][0]["dossier_id"])
        .collect();
    assert!(
        firsts.contains(&&json!(obama)) && firsts.contains(&&json!(biden)),
        "{group}"
    );

    // The same picture in a newer dossier: equally close, the newest first.
    let again = app.dossier("Obama, second file", &[list]).await;
    assert_eq!(
        upload(&app, again, &test_photo("obama.jpg")).await.status,
        200
    );
    let found = search(&app, &[("image", &test_photo("obama2.jpg"))])
        .await
        .json();
    let matches = &found["faces"][0]["matches"];
    assert_eq!(matches[0]["dossier_id"], again, "{found}");
    assert_eq!(matches[1]["dossier_id"], obama);
    assert_eq!(matches[0]["confidence"], matches[1]["confidence"]);

    // A photo without a face: no faces, not an error.
    let blank = search(&app, &[("image", &engine::demo::portrait(3))]).await;
    assert_eq!(blank.status, 200);
    assert_eq!(blank.json()["faces"], json!([]));
}

#[sqlx::test(migrations = "../migrations")]
async fn photos_without_exactly_one_face_and_bad_images_are_refused_and_change_nothing(
    pool: sqlx::PgPool,
) {
    let app = TestApp::with_faces(pool).await;
    let list = app.watch_list("L").await;
    let dossier = app.dossier("Someone", &[list]).await;

    let none = upload(&app, dossier, &engine::demo::portrait(5)).await;
    assert_eq!(none.status, 422);
    let none = none.json();
    assert!(
        none["message"].as_str().unwrap().contains("no face"),
        "{none}"
    );
    assert_eq!(none["found"], json!([]));

    let two = upload(&app, dossier, &two_people()).await;
    assert_eq!(two.status, 422);
    let two = two.json();
    assert!(
        two["message"].as_str().unwrap().starts_with("2 faces"),
        "{two}"
    );
    assert_eq!(two["found"].as_array().unwrap().len(), 2);
    assert!(two["width"].as_u64().unwrap() > 1000);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a text file",
            b"hello, not an image".to_vec(),
            "is not a JPEG",
        ),
        (
            "a truncated JPEG",
            test_photo("obama.jpg")[..20_000].to_vec(),
            "could not be decoded",
        ),
        ("a 20000×20000 JPEG", huge_jpeg(), "megapixels"),
    ];
    for (what, bytes, says) in cases {
        let answer = upload(&app, dossier, &bytes).await;
        assert_eq!(answer.status, 400, "{what}");
        let body = answer.json();
        assert_eq!(body["field"], "image", "{what}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{what}: {body}"
        );
        let searched = search(&app, &[("image", &bytes)]).await;
        assert_eq!(searched.status, 400, "search with {what}");
    }
    // A vector of another model, or of the wrong length, sent with the photo.
    let photo = test_photo("obama.jpg");
    let id = dossier.to_string();
    for (vector, model, field) in [
        ("[0.1, 0.2]", face_engine::MODEL_NAME, "vector"),
        (
            &*format!("{:?}", vec![0.1; 128]),
            "someone-elses-model",
            "model",
        ),
    ] {
        let answer = app
            .upload(
                &app.operator,
                &[
                    ("dossier_id", id.as_bytes()),
                    ("image", &photo),
                    ("vector", vector.as_bytes()),
                    ("model", model.as_bytes()),
                ],
            )
            .await;
        assert_eq!(answer.status, 400);
        assert_eq!(answer.json()["field"], field);
    }
    let search_bad = search(&app, &[("image", &photo), ("min_confidence", b"2")]).await;
    assert_eq!(search_bad.status, 400);
    assert_eq!(search_bad.json()["field"], "min_confidence");
    assert_eq!(app.count("photos").await, 0);
    assert_eq!(app.count("images").await, 0);

    // A vector of this installation's model sent with the photo is kept as sent (an external
    // extractor's), whatever the photo shows.
    let external = format!("{:?}", vec![0.25_f32; 128]);
    let kept = app
        .upload(
            &app.operator,
            &[
                ("dossier_id", id.as_bytes()),
                ("image", &engine::demo::portrait(5)),
                ("vector", external.as_bytes()),
                ("model", face_engine::MODEL_NAME.as_bytes()),
            ],
        )
        .await;
    assert_eq!(kept.status, 200, "{}", String::from_utf8_lossy(&kept.body));
    let stored: Vec<f32> = sqlx::query_scalar("SELECT face_vector FROM photos")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, vec![0.25_f32; 128]);
}

/// A real JPEG whose header says 20000×20000 pixels: a few hundred kilobytes that would take
/// 1.2 GB to decode.
fn huge_jpeg() -> Vec<u8> {
    let mut bytes = test_photo("obama.jpg");
    let sof = bytes
        .windows(2)
        .rposition(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2))
        .expect("a start-of-frame marker");
    // The last frame header is the photo's (an EXIF thumbnail has its own before it).
    // Marker, length (2), precision (1), then height and width (2 each, big-endian).
    bytes[sof + 5..sof + 9].copy_from_slice(&[0x4E, 0x20, 0x4E, 0x20]);
    bytes
}

/// A test photo changed by `edit`, as a JPEG.
fn edited(name: &str, edit: impl Fn(image::RgbImage) -> image::RgbImage) -> Vec<u8> {
    let photo = image::load_from_memory(&test_photo(name))
        .unwrap()
        .to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&edit(photo))
        .unwrap();
    jpeg
}

#[sqlx::test(migrations = "../migrations")]
async fn a_photo_whose_face_is_too_small_or_blurred_is_refused_with_its_measure_unless_forced(
    pool: sqlx::PgPool,
) {
    let app = TestApp::with_faces(pool).await;
    let list = app.watch_list("Wanted").await;
    let obama = app.dossier("Barack Obama", &[list]).await;
    // obama.jpg's face is 254 pixels tall: a fifth of the photo makes it about 50.
    let small = edited("obama.jpg", |p| {
        let (w, h) = (p.width() / 5, p.height() / 5);
        image::imageops::resize(&p, w, h, image::imageops::FilterType::Triangle)
    });
    let blurred = edited("obama.jpg", |p| image::imageops::blur(&p, 4.0));
    let refused = upload(&app, obama, &small).await;
    assert_eq!(refused.status, 422);
    let body = refused.json();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("pixels tall") && message.contains("FACE_MIN_SIZE"),
        "{message}"
    );
    assert_eq!(
        body["found"].as_array().unwrap().len(),
        1,
        "the face is shown: {body}"
    );
    let refused = upload(&app, obama, &blurred).await;
    assert_eq!(refused.status, 422);
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("sharpness is 0.") && message.contains("FACE_MIN_SHARPNESS"),
        "{message}"
    );
    assert_eq!(app.count("photos").await, 0, "nothing is stored");

    // The sharp, large original passes; a small one passes when the caller insists.
    assert_eq!(
        upload(&app, obama, &test_photo("obama.jpg")).await.status,
        200
    );
    let id = obama.to_string();
    let forced = app
        .upload(
            &app.operator,
            &[
                ("dossier_id", id.as_bytes()),
                ("image", &small),
                ("force", b"true"),
            ],
        )
        .await;
    assert_eq!(
        forced.status,
        200,
        "{}",
        String::from_utf8_lossy(&forced.body)
    );
    let bad_flag = app
        .upload(
            &app.operator,
            &[
                ("dossier_id", id.as_bytes()),
                ("image", &small),
                ("force", b"maybe"),
            ],
        )
        .await;
    assert_eq!(bad_flag.json()["field"], "force");
    assert_eq!(app.count("photos").await, 2);
}
