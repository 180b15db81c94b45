//! Monitoring through the API, with the real engine on real photos: a camera posts a photo or
//! vectors, each face is matched against the active lists with their thresholds, the events
//! page lists the outcome, and acknowledging records who and when. Bad posts store nothing.
//! Webhooks are in `webhooks`; the index kept current, saved and reloaded in `index`.

mod archive;
mod index;
mod replica;
mod verdicts;
mod webhooks;

use crate::helpers::{multipart_request, test_photo, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};

/// A list named `name` with these settings, and a dossier in it with `photo`'s face; returns
/// (list, dossier).
pub(super) async fn watched(app: &TestApp, name: &str, settings: Value, photo: &str) -> (i64, i64) {
    let mut fields = json!({ "name": name, "active": true });
    fields
        .as_object_mut()
        .unwrap()
        .extend(settings.as_object().unwrap().clone());
    let list = app.ok("watch-lists/create", &app.operator, fields).await["id"]
        .as_i64()
        .unwrap();
    let dossier = app.dossier(&format!("{name} person"), &[list]).await;
    let uploaded = crate::faces::upload(app, dossier, &test_photo(photo)).await;
    assert_eq!(
        uploaded.status,
        200,
        "{}",
        String::from_utf8_lossy(&uploaded.body)
    );
    indexed(app).await;
    (list, dossier)
}

/// The face index brought up to date now (a server does it every second).
pub(super) async fn indexed(app: &TestApp) {
    let inst = &app.state.installation;
    inst.monitoring.index.refresh().await.unwrap();
}

/// A camera's post of a photo, as multipart.
pub(super) async fn post_photo(
    app: &TestApp,
    camera: &str,
    photo: &[u8],
) -> crate::helpers::Answer {
    app.send(multipart_request(
        "/api/events/faces",
        &app.camera,
        &[("camera", camera.as_bytes()), ("image", photo)],
    ))
    .await
}

pub(super) async fn post_json(app: &TestApp, body: Value) -> crate::helpers::Answer {
    app.post("/api/events/faces", Some(&app.camera), body).await
}

pub(super) async fn events(app: &TestApp, filter: Value) -> Value {
    app.ok("events/list", &app.user, filter).await
}

fn created(answer: &crate::helpers::Answer) -> Value {
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_camera_photo_of_a_watched_person_is_a_match_and_a_stranger_is_not(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let (list, dossier) = watched(
        &app,
        "Wanted",
        json!({"acknowledge": true, "color": "#d0021b"}),
        "obama.jpg",
    )
    .await;

    let seen = created(&post_photo(&app, "gate-1", &test_photo("obama2.jpg")).await);
    let event = &seen["events"][0];
    assert_eq!(seen["events"].as_array().unwrap().len(), 1);
    assert_eq!(event["matched"]["dossier_id"], dossier);
    assert_eq!(event["matched"]["watch_list_id"], list);
    assert!(
        event["matched"]["confidence"].as_f64().unwrap() > 0.9,
        "{event}"
    );
    assert!(event["face_box"]["width"].as_u64().unwrap() > 50);

    let stranger = created(&post_photo(&app, "gate-2", &test_photo("biden.jpg")).await);
    assert_eq!(stranger["events"][0]["matched"], Value::Null);

    // The page: newest first, the face kept, the match with the list's colour and the
    // dossier's photo; the unmatched one says so.
    let page = events(&app, json!({})).await;
    let listed = page["events"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["camera"], "gate-2");
    assert_eq!(listed[0]["matched"], Value::Null);
    let matched = &listed[1]["matched"];
    assert_eq!(matched["dossier_name"], "Wanted person");
    assert_eq!(matched["color"], "#d0021b");
    assert!(matched["photo_sha256"].is_string());
    assert_eq!(listed[1]["needs_ack"], true);
    assert_eq!(page["awaiting"], 1);
    let face = app
        .get(&format!("/events/{}/face", event["id"]), Some(&app.user))
        .await;
    assert_eq!(face.status, 200);
    assert_eq!(face.headers[axum::http::header::CONTENT_TYPE], "image/jpeg");

    // Filters.
    let only_matches = events(&app, json!({"matched": "yes"})).await;
    assert_eq!(only_matches["events"].as_array().unwrap().len(), 1);
    let by_camera = events(&app, json!({"camera": "gate-2"})).await;
    assert_eq!(by_camera["events"][0]["camera"], "gate-2");
    let by_list = events(&app, json!({"watch_list": list})).await;
    assert_eq!(by_list["events"].as_array().unwrap().len(), 1);

    // Acknowledging: not for a reader, recorded with who and when, once.
    let id = event["id"].as_i64().unwrap();
    let refused = app
        .call("events/acknowledge", Some(&app.user), json!({"id": id}))
        .await;
    assert_eq!(refused.status, 403);
    let done = app
        .ok("events/acknowledge", &app.operator, json!({"id": id}))
        .await;
    assert_eq!(done["by"], "operator");
    let again = app
        .call("events/acknowledge", Some(&app.operator), json!({"id": id}))
        .await;
    assert_eq!(again.status, 409);
    assert!(
        again.json()["message"]
            .as_str()
            .unwrap()
            .contains("by operator"),
        "{}",
        again.json()
    );
    let unmatched = listed[0]["id"].as_i64().unwrap();
    let needless = app
        .call(
            "events/acknowledge",
            Some(&app.operator),
            json!({"id": unmatched}),
        )
        .await;
    assert_eq!(needless.status, 409);
    let page = events(&app, json!({"acknowledged": "done"})).await;
    assert_eq!(page["events"][0]["acknowledged"]["by"], "operator");
    assert_eq!(page["awaiting"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_camera_may_post_and_nothing_else(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    for endpoint in ["events/list", "watch-lists/list", "dossiers/search"] {
        let answer = app.call(endpoint, Some(&app.camera), json!({})).await;
        assert_eq!(answer.status, 403, "{endpoint}");
    }
    let page = app.get("/events/live", Some(&app.camera)).await;
    assert_eq!(page.status, 403);
    // Nor may a reader post events.
    let answer = app
        .post(
            "/api/events/faces",
            Some(&app.user),
            json!({"camera": "x", "model": "m", "vectors": [[0.0]]}),
        )
        .await;
    assert_eq!(answer.status, 403);
    let anonymous = app.post("/api/events/faces", None, json!({})).await;
    assert_eq!(anonymous.status, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn vectors_match_by_each_lists_threshold_and_activity(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let (list, dossier) = watched(
        &app,
        "Strict",
        json!({"confidence_threshold": 0.99}),
        "obama.jpg",
    )
    .await;
    let stored: Vec<f32> = sqlx::query_scalar("SELECT face_vector FROM photos")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let model = face_engine::MODEL_NAME;
    let post = |v: Vec<f32>| {
        post_json(
            &app,
            json!({"camera": "lobby", "model": model, "vectors": [v]}),
        )
    };

    let same = created(&post(stored.clone()).await);
    assert_eq!(same["events"][0]["matched"]["dossier_id"], dossier);
    assert_eq!(same["events"][0]["face_box"], Value::Null);
    // Moved 0.45 away: confidence ≈ 0.92, below this list's 0.99.
    let near: Vec<f32> = stored
        .iter()
        .enumerate()
        .map(|(i, x)| if i == 0 { x + 0.45 } else { *x })
        .collect();
    let below = created(&post(near.clone()).await);
    assert_eq!(below["events"][0]["matched"], Value::Null);
    // Under the installation's default (0.75) it matches.
    app.ok(
        "watch-lists/update",
        &app.operator,
        json!({"id": list, "name": "Strict", "active": true}),
    )
    .await;
    let default = created(&post(near).await);
    assert_eq!(default["events"][0]["matched"]["dossier_id"], dossier);
    // A deactivated list, or a deactivated dossier, matches nothing.
    app.ok(
        "watch-lists/update",
        &app.operator,
        json!({"id": list, "name": "Strict", "active": false}),
    )
    .await;
    assert_eq!(
        created(&post(stored.clone()).await)["events"][0]["matched"],
        Value::Null
    );
    app.ok(
        "watch-lists/update",
        &app.operator,
        json!({"id": list, "name": "Strict", "active": true}),
    )
    .await;
    app.ok(
        "dossiers/update",
        &app.operator,
        json!({"id": dossier, "name": "Strict person", "active": false, "watch_lists": [list]}),
    )
    .await;
    assert_eq!(
        created(&post(stored).await)["events"][0]["matched"],
        Value::Null
    );
    assert_eq!(app.count("events").await, 5);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_posts_say_what_is_wrong_and_store_nothing(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let model = face_engine::MODEL_NAME;
    let v = vec![0.01_f32; 128];
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"model": model, "vectors": [v]}), 400, "camera"),
        (json!({"camera": "x"}), 400, "send a photo"),
        (
            json!({"camera": "x", "model": "other-model", "vectors": [v]}),
            400,
            "other-model",
        ),
        (
            json!({"camera": "x", "vectors": [v]}),
            400,
            "the name of the model",
        ),
        (
            json!({"camera": "x", "model": model, "vectors": [[1.0, 2.0]]}),
            400,
            "has 2 numbers",
        ),
        (
            json!({"camera": "x", "model": model, "vectors": []}),
            400,
            "1 to 64",
        ),
        (
            json!({"camera": "x", "model": model, "vectors": [v], "image": "AAAA"}),
            400,
            "not both",
        ),
        (
            json!({"camera": "x", "model": model, "vectors": [v], "captured_at": "yesterday"}),
            400,
            "RFC 3339",
        ),
        (
            json!({"camera": "x", "model": model, "vectors": [v], "captured_at": "2999-01-01T00:00:00Z"}),
            400,
            "future",
        ),
        (
            json!({"camera": "x", "model": model, "vectors": [v], "captured_at": "2001-01-01T00:00:00Z"}),
            400,
            "older than",
        ),
        (
            json!({"camera": "x", "model": model, "vectors": [v], "colour": "red"}),
            400,
            "unknown field",
        ),
        (
            json!({"camera": "x", "image": "not base64!"}),
            400,
            "base64",
        ),
        (
            json!({"camera": "x", "model": model, "vectors": [["a"]]}),
            400,
            "malformed JSON",
        ),
    ];
    for (body, status, says) in cases {
        let answer = post_json(&app, body.clone()).await;
        assert_eq!(
            answer.status.as_u16(),
            status,
            "{body}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        // The field and what is wrong with it.
        let error = answer.json().to_string();
        assert!(error.contains(says), "{body}: {error}");
    }
    // A photo without a face, one that is not an image, a truncated JPEG.
    let blank = {
        let mut png = Vec::new();
        image::DynamicImage::new_rgb8(300, 300)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        png
    };
    let no_face = post_photo(&app, "x", &blank).await;
    assert_eq!(no_face.status, 422);
    assert!(no_face.json()["message"]
        .as_str()
        .unwrap()
        .contains("no face"));
    assert_eq!(post_photo(&app, "x", b"not an image").await.status, 400);
    let jpeg = test_photo("obama.jpg");
    assert_eq!(post_photo(&app, "x", &jpeg[..20_000]).await.status, 400);
    let wrong_type = app
        .send(
            axum::http::Request::post("/api/events/faces")
                .header("authorization", format!("Token {}", app.camera))
                .header("content-type", "text/plain")
                .body(axum::body::Body::from("hello"))
                .unwrap(),
        )
        .await;
    assert_eq!(wrong_type.status, 400);
    assert_eq!(app.count("events").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_database_that_is_away_answers_503_with_retry_after(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let model = face_engine::MODEL_NAME;
    app.pool.close().await;
    let answer = post_json(
        &app,
        json!({"camera": "x", "model": model, "vectors": [vec![0.0_f32; 128]]}),
    )
    .await;
    assert_eq!(
        answer.status,
        503,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(answer.headers.contains_key(axum::http::header::RETRY_AFTER));
}

#[sqlx::test(migrations = "../migrations")]
async fn events_page_in_keyset_pages_and_old_days_are_dropped(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let model = face_engine::MODEL_NAME;
    let vectors: Vec<Vec<f32>> = (0..60).map(|i| vec![i as f32 / 100.0; 128]).collect();
    created(
        &post_json(
            &app,
            json!({"camera": "lobby", "model": model, "vectors": vectors}),
        )
        .await,
    );
    let first = events(&app, json!({})).await;
    assert_eq!(first["events"].as_array().unwrap().len(), 50);
    let next = first["next"].as_str().unwrap();
    let second = events(&app, json!({"before": next})).await;
    assert_eq!(second["events"].as_array().unwrap().len(), 10);
    assert_eq!(second["next"], Value::Null);
    let mut ids: Vec<i64> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["events"].as_array().unwrap())
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 60);

    // A day beyond the retention is dropped whole; today stays.
    let old = chrono::Utc::now() - chrono::Duration::days(40);
    sqlx::query("SELECT events_partition($1::date)")
        .bind(old.date_naive())
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO events (captured_at, camera) VALUES ($1, 'old')")
        .bind(old)
        .execute(&app.pool)
        .await
        .unwrap();
    let dropped = engine::monitoring::partitions::tidy(&app.pool, &app.state.monitoring.days, 30)
        .await
        .unwrap();
    assert_eq!(dropped, 1);
    assert_eq!(app.count("events").await, 60);
}

#[sqlx::test(migrations = "../migrations")]
async fn cameras_posting_a_new_days_first_events_at_once_are_all_stored(pool: sqlx::PgPool) {
    // Yesterday has no partition yet (the housekeeping makes today's and tomorrow's), so every
    // one of these posts makes it at the same moment, each on a connection of its own.
    let app = TestApp::new(pool).await;
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let posts = (0..8).map(|i| {
        let body = json!({"camera": format!("gate-{i}"), "model": "face-v1",
                          "vectors": [[1.0, 0.0, 0.0, 0.0]], "captured_at": yesterday});
        let app = &app;
        async move { post_json(app, body).await }
    });
    for answer in futures_util::future::join_all(posts).await {
        created(&answer);
    }
    assert_eq!(app.count("events").await, 8);
}
