//! Photos through the API: upload (with and without a vector), thumbnails, storage by content
//! hash, serving with cache headers, and the uploads that must be refused.

use crate::helpers::TestApp;
use serde_json::json;

#[sqlx::test(migrations = "../migrations")]
async fn a_photo_is_stored_once_per_content_and_served_with_its_thumbnail(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("L").await;
    let first = app.dossier("First", &[list]).await;
    let second = app.dossier("Second", &[list]).await;
    let png = engine::demo::portrait(7);

    let photo = app
        .upload(
            &app.operator,
            &[
                ("dossier_id", first.to_string().as_bytes()),
                ("image", &png),
                ("vector", b"[0.1, 0.2, 0.3, 0.4]"),
                ("model", b"face-v1"),
            ],
        )
        .await;
    assert_eq!(
        photo.status,
        200,
        "{}",
        String::from_utf8_lossy(&photo.body)
    );
    let photo = photo.json();
    assert_eq!(photo["width"], 96);
    assert_eq!(photo["content_type"], "image/png");
    assert_eq!(photo["has_vector"], true);
    assert_eq!(photo["face_model"], "face-v1");
    let sha = photo["sha256"].as_str().unwrap().to_string();

    // The same picture for another dossier: a second photo, one stored image.
    let again = app
        .upload(
            &app.operator,
            &[
                ("dossier_id", second.to_string().as_bytes()),
                ("image", &png),
            ],
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["sha256"], sha.as_str());
    assert_eq!(app.count("photos").await, 2);
    assert_eq!(app.count("images").await, 1);

    let full = app.get(&format!("/photos/{sha}"), Some(&app.user)).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.body, png, "served byte for byte");
    assert!(full.headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age=31536000"));
    let thumb = app
        .get(&format!("/photos/{sha}/thumbnail"), Some(&app.user))
        .await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.headers["content-type"], "image/jpeg");
    assert!(image::load_from_memory(&thumb.body).unwrap().width() <= 160);
    assert_eq!(app.get(&format!("/photos/{sha}"), None).await.status, 401);
    assert_eq!(
        app.get(&format!("/photos/{}", "0".repeat(64)), Some(&app.user))
            .await
            .status,
        404
    );

    let detail = app
        .ok("dossiers/get", &app.user, json!({"id": first}))
        .await;
    assert_eq!(detail["photos"].as_array().unwrap().len(), 1);

    // Deleting one photo keeps the image the other still uses; deleting both frees it.
    let photo_id = detail["photos"][0]["id"].as_i64().unwrap();
    app.ok("photos/delete", &app.operator, json!({"id": photo_id}))
        .await;
    assert_eq!(app.count("images").await, 1);
    app.ok("dossiers/delete", &app.operator, json!({"id": second}))
        .await;
    assert_eq!(app.count("images").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_uploads_are_refused_naming_the_reason_and_nothing_is_stored(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("L").await;
    let id = app.dossier("D", &[list]).await.to_string();
    let png = engine::demo::portrait(1);
    let big = vec![0u8; 300 * 1024];
    // (multipart fields, expected status, expected words in the message)
    type Case<'a> = (Vec<(&'a str, &'a [u8])>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("dossier_id", id.as_bytes()),
                ("image", b"this is not an image"),
            ],
            400,
            "is not a JPEG, PNG, WebP or GIF image",
        ),
        (
            vec![("dossier_id", id.as_bytes()), ("image", &big)],
            413,
            "upload limit",
        ),
        (
            vec![("dossier_id", id.as_bytes())],
            400,
            "choose an image file",
        ),
        (
            vec![("dossier_id", b"999999"), ("image", &png)],
            400,
            "dossier 999999 does not exist",
        ),
        (
            vec![
                ("dossier_id", id.as_bytes()),
                ("image", &png),
                ("vector", b"[1, 2]"),
                ("model", b"face-v1"),
            ],
            400,
            "gives 4 numbers, got 2",
        ),
        (
            vec![
                ("dossier_id", id.as_bytes()),
                ("image", &png),
                ("vector", b"[1, 2, 3, 4]"),
                ("model", b"other-net"),
            ],
            400,
            "not comparable",
        ),
        (
            vec![
                ("dossier_id", id.as_bytes()),
                ("image", &png),
                ("vector", b"[1, 2, 3, 4]"),
            ],
            400,
            "name the model",
        ),
        (
            vec![
                ("dossier_id", id.as_bytes()),
                ("image", &png),
                ("vector", b"oops"),
                ("model", b"face-v1"),
            ],
            400,
            "JSON array",
        ),
    ];
    for (fields, status, message) in cases {
        let answer = app.upload(&app.operator, &fields).await;
        assert_eq!(
            answer.status,
            status,
            "{message}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let error = answer.json();
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "expected {message:?} in {error}"
        );
    }
    assert_eq!(app.count("photos").await, 0);
    assert_eq!(app.count("images").await, 0);
    let user_upload = app
        .upload(&app.user, &[("dossier_id", id.as_bytes()), ("image", &png)])
        .await;
    assert_eq!(user_upload.status, 403);
}

/// The photo endpoints read multipart bodies; anything else (JSON, a form, a multipart type
/// without its boundary) is a 400 that says so, not a crash of the request.
#[sqlx::test(migrations = "../migrations")]
async fn a_photo_endpoint_sent_something_else_than_multipart_says_so(pool: sqlx::PgPool) {
    use axum::body::Body;
    use axum::http::{header, Request};
    let app = TestApp::new(pool).await;
    let list = app.watch_list("L").await;
    let dossier = app.dossier("Ann", &[list]).await;
    for endpoint in ["photos/upload", "faces/search"] {
        let json = app
            .call(endpoint, Some(&app.admin), json!({"dossier_id": dossier}))
            .await;
        assert_eq!(json.status, 400, "{endpoint}");
        let message = json.json()["message"].as_str().unwrap().to_string();
        assert!(message.contains("multipart/form-data"), "{message}");
        let no_boundary = app
            .send(
                Request::post(format!("/api/{endpoint}"))
                    .header(header::AUTHORIZATION, format!("Token {}", app.admin))
                    .header(header::CONTENT_TYPE, "multipart/form-data")
                    .body(Body::from("--x\r\n"))
                    .unwrap(),
            )
            .await;
        assert_eq!(no_boundary.status, 400, "{endpoint}");
    }
    assert_eq!(app.count("photos").await, 0);
}
