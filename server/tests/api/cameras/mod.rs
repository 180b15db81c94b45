//! Cameras: what an Administrator sets of them (checked, audited, the stream's password never
//! shown), and what video workers may do with them through the API (leases, reports,
//! sightings that make one event per track).

mod watching;

use crate::helpers::TestApp;
use serde_json::{json, Value};

/// A user of the Video worker group and their token.
pub async fn video_worker_token(app: &TestApp) -> String {
    let mut db = app.pool.acquire().await.unwrap();
    let id = engine::auth::create_user(&mut db, "video-1", "password123", "Video worker")
        .await
        .unwrap();
    engine::auth::issue_token(&mut db, id).await.unwrap()
}

async fn cameras(app: &TestApp) -> Vec<Value> {
    app.ok("cameras/list", &app.admin, json!({}))
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_administrator_adds_changes_and_deletes_cameras_and_the_password_is_never_shown(
    pool: sqlx::PgPool,
) {
    let app = TestApp::new(pool).await;
    let id = app
        .ok(
            "cameras/create",
            &app.admin,
            json!({"name": "gate-1", "url": "rtsp://admin:s3cret@10.0.0.5:554/live", "enabled": true, "fps": "2.5", "region": "0,0.25,1,0.5"}),
        )
        .await
        .as_i64()
        .unwrap();
    let listed = cameras(&app).await;
    assert_eq!(listed.len(), 1);
    let camera = &listed[0];
    assert_eq!(camera["id"], id);
    assert_eq!(camera["url"], "rtsp://admin:***@10.0.0.5:554/live");
    assert_eq!(camera["fps"], 2.5);
    assert_eq!(camera["min_face"], 80);
    assert_eq!(camera["region"]["top"], 0.25);
    assert_eq!(
        camera["status"]["state"], "waiting",
        "no video worker holds it yet"
    );

    // An empty stream keeps the one stored; switching it off says so.
    app.ok(
        "cameras/update",
        &app.admin,
        json!({"id": id, "name": "gate-one", "url": "", "enabled": false}),
    )
    .await;
    let camera = &cameras(&app).await[0];
    assert_eq!(camera["name"], "gate-one");
    assert_eq!(camera["url"], "rtsp://admin:***@10.0.0.5:554/live");
    assert_eq!(camera["status"]["state"], "disabled");

    // The audit log has every change, and not the password.
    let audit = app
        .ok(
            "audit/entries",
            &app.admin,
            json!({"subject_kind": "camera"}),
        )
        .await;
    let text = audit.to_string();
    assert_eq!(audit["entries"].as_array().unwrap().len(), 2, "{text}");
    assert!(
        text.contains("rtsp://admin:***@10.0.0.5:554/live"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");

    app.ok("cameras/delete", &app.admin, json!({"id": id}))
        .await;
    assert!(cameras(&app).await.is_empty());
    assert_eq!(
        app.call("cameras/delete", Some(&app.admin), json!({"id": id}))
            .await
            .status,
        404
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_camera_fields_are_named_and_change_nothing(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let cases = [
        (json!({"name": "", "url": "rtsp://cam/live"}), "name"),
        (json!({"name": "a", "url": ""}), "url"),
        (json!({"name": "a", "url": "ftp://cam/live"}), "url"),
        (json!({"name": "a", "url": "concat:/etc/passwd|x"}), "url"),
        (
            json!({"name": "a", "url": "rtsp://cam/live", "fps": "0"}),
            "fps",
        ),
        (
            json!({"name": "a", "url": "rtsp://cam/live", "fps": "many"}),
            "fps",
        ),
        (
            json!({"name": "a", "url": "rtsp://cam/live", "min_face": "5"}),
            "min_face",
        ),
        (
            json!({"name": "a", "url": "rtsp://cam/live", "min_quality": "2"}),
            "min_quality",
        ),
        (
            json!({"name": "a", "url": "rtsp://cam/live", "region": "0.5,0,0.9,1"}),
            "region",
        ),
    ];
    for (body, field) in cases {
        let answer = app
            .call("cameras/create", Some(&app.admin), body.clone())
            .await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.json()["field"], field, "{body}");
    }
    app.ok(
        "cameras/create",
        &app.admin,
        json!({"name": "lobby", "url": "/srv/lobby.mp4", "enabled": true}),
    )
    .await;
    let again = app
        .call(
            "cameras/create",
            Some(&app.admin),
            json!({"name": "lobby", "url": "/srv/other.mp4"}),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["field"], "name");
    assert_eq!(cameras(&app).await.len(), 1);
    // Only Administrators manage cameras.
    for token in [&app.operator, &app.user, &app.camera] {
        let answer = app
            .call(
                "cameras/create",
                Some(token),
                json!({"name": "x", "url": "rtsp://cam/live"}),
            )
            .await;
        assert_eq!(answer.status, 403);
    }
    assert_eq!(app.count("cameras").await, 1);
}

/// A sighting of `track` on `camera` with the tests' 4-float model: the track began a minute
/// before the tests did (its worker says the same time at every post), and is seen now.
fn sighting(camera: i64, track: &str, vector: [f32; 4], quality: f32, ended: bool) -> Value {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let jpeg = engine::images::jpeg_within(
        &image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8)),
        8,
    )
    .unwrap();
    let vector: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    let now = chrono::Utc::now();
    static BEGAN: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> = std::sync::OnceLock::new();
    let began = *BEGAN.get_or_init(|| now - chrono::Duration::minutes(1));
    json!({
        "camera": camera,
        "track": track,
        "first_at": began.to_rfc3339(),
        "last_at": now.to_rfc3339(),
        "ended": ended,
        "shot": {
            "quality": quality,
            "face_box": {"left": 10, "top": 10, "width": 100, "height": 100},
            "model": "face-v1",
            "vector": b64(&vector),
            "face_jpeg": b64(&jpeg),
            "frame_jpeg": b64(&jpeg),
        }
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn a_track_is_one_event_made_at_its_first_match_or_at_its_end(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let token = video_worker_token(&app).await;
    let list = app
        .ok(
            "watch-lists/create",
            &app.operator,
            json!({"name": "Wanted", "active": true, "notify": true}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let dossier = app.dossier("Ann Example", &[list]).await;
    crate::helpers::add_photo(&app, dossier, 1, Some("[1, 0, 0, 0]")).await;
    app.ok(
        "webhooks/create",
        &app.admin,
        json!({"url": "http://127.0.0.1:9/hook"}),
    )
    .await;
    let camera = app
        .ok(
            "cameras/create",
            &app.admin,
            json!({"name": "door", "url": "rtsp://cam/live", "enabled": true}),
        )
        .await
        .as_i64()
        .unwrap();
    let post = |body: Value| {
        let token = token.clone();
        let app = &app;
        async move { app.post("/api/video/sightings", Some(&token), body).await }
    };
    let events = || async { app.count("events").await };

    // A stranger's shot while the track goes on makes nothing; its end makes one event.
    let stranger = sighting(camera, "1.1.a.1", [0.0, 1.0, 0.0, 0.0], 0.6, false);
    let answer = post(stranger).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json(), json!({"event": null, "matched": false}));
    assert_eq!(events().await, 0);
    let ended = sighting(camera, "1.1.a.1", [0.0, 1.0, 0.0, 0.0], 0.7, true);
    let made = post(ended.clone()).await.json();
    assert_eq!(made["matched"], false);
    // Posted again (a worker that did not hear the answer): still one event.
    assert_eq!(post(ended).await.json(), made);
    assert_eq!(events().await, 1);

    // The dossier's face: an event at its first shot, updated by a better one and the end.
    let first = post(sighting(
        camera,
        "1.1.a.2",
        [1.0, 0.0, 0.0, 0.0],
        0.5,
        false,
    ))
    .await
    .json();
    assert_eq!(first["matched"], true);
    let id = first["event"].as_i64().unwrap();
    let better = post(sighting(
        camera,
        "1.1.a.2",
        [1.0, 0.05, 0.0, 0.0],
        0.9,
        false,
    ))
    .await
    .json();
    assert_eq!(better["event"], id);
    let last = post(sighting(
        camera,
        "1.1.a.2",
        [1.0, 0.05, 0.0, 0.0],
        0.9,
        true,
    ))
    .await
    .json();
    assert_eq!(last["event"], id);
    assert_eq!(events().await, 2);
    let page = app.ok("events/list", &app.user, json!({})).await;
    let event = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(event["camera"], "door");
    assert_eq!(event["camera_id"], camera);
    assert_eq!(event["matched"]["dossier_id"], dossier);
    assert!(
        (event["quality"].as_f64().unwrap() - 0.9).abs() < 1e-6,
        "the best shot is kept"
    );
    assert!(event["has_frame"].as_bool().unwrap());
    assert!(event["last_seen_at"].as_str().unwrap() > event["captured_at"].as_str().unwrap());
    // The webhook heard of the match once.
    assert_eq!(app.count("webhook_deliveries").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn video_routes_check_who_calls_and_what_they_send(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let token = video_worker_token(&app).await;
    let camera = app
        .ok(
            "cameras/create",
            &app.admin,
            json!({"name": "door", "url": "rtsp://cam/live", "enabled": true}),
        )
        .await
        .as_i64()
        .unwrap();
    // Only the Video worker group (and Administrators) may take cameras: their streams carry
    // passwords.
    for other in [&app.operator, &app.user, &app.camera] {
        let answer = app
            .post(
                "/api/video/leases",
                Some(other),
                json!({"worker": "w", "capacity": 1}),
            )
            .await;
        assert_eq!(answer.status, 403);
    }
    let leases = app
        .post(
            "/api/video/leases",
            Some(&token),
            json!({"worker": "w1", "capacity": 4}),
        )
        .await;
    assert_eq!(leases.status, 200);
    let leases = leases.json();
    assert_eq!(leases["model"], "face-v1");
    assert_eq!(leases["cameras"][0]["url"], "rtsp://cam/live");
    // Another worker gets nothing while the lease runs.
    let other = app
        .post(
            "/api/video/leases",
            Some(&token),
            json!({"worker": "w2", "capacity": 4}),
        )
        .await
        .json();
    assert_eq!(other["cameras"], json!([]));
    assert_eq!(cameras(&app).await[0]["status"]["worker"], "w1");

    let mut bad = sighting(camera, "1.1.a.1", [1.0, 0.0, 0.0, 0.0], 0.5, true);
    bad["shot"]["model"] = json!("another-model");
    let answer = app.post("/api/video/sightings", Some(&token), bad).await;
    assert_eq!(
        (answer.status.as_u16(), answer.json()["field"].clone()),
        (400, json!("model"))
    );
    let mut bad = sighting(camera, "1.1.a.1", [1.0, 0.0, 0.0, 0.0], 0.5, true);
    bad["shot"]["face_jpeg"] = json!("aGVsbG8=");
    let answer = app.post("/api/video/sightings", Some(&token), bad).await;
    assert_eq!(answer.json()["field"], "shot.face_jpeg");
    let answer = app
        .post(
            "/api/video/sightings",
            Some(&token),
            sighting(camera + 100, "t", [1.0, 0.0, 0.0, 0.0], 0.5, true),
        )
        .await;
    assert_eq!(answer.status, 404);
    let answer = app
        .post(
            "/api/video/sightings",
            Some(&token),
            json!({"camera": camera}),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(app.count("events").await, 0);

    // A report of a camera the worker does not hold changes nothing.
    let report = json!({"worker": "w2", "reports": [{"camera": camera, "state": "failed", "detail": "not mine"}]});
    assert_eq!(
        app.post("/api/video/reports", Some(&token), report)
            .await
            .status,
        204
    );
    assert_eq!(cameras(&app).await[0]["status"]["state"], "connecting");
    let report = json!({"worker": "w1", "reports": [{"camera": camera, "state": "streaming", "fps": 5.0, "width": 1280, "height": 720}]});
    assert_eq!(
        app.post("/api/video/reports", Some(&token), report)
            .await
            .status,
        204
    );
    assert_eq!(cameras(&app).await[0]["status"]["state"], "streaming");

    // Released, the camera is free for another worker at once.
    assert_eq!(
        app.post("/api/video/release", Some(&token), json!({"worker": "w1"}))
            .await
            .status,
        204
    );
    let taken = app
        .post(
            "/api/video/leases",
            Some(&token),
            json!({"worker": "w2", "capacity": 1}),
        )
        .await
        .json();
    assert_eq!(taken["cameras"][0]["id"], camera);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_camera_form_comes_back_with_its_stream_password_masked(pool: sqlx::PgPool) {
    use axum::body::Body;
    use axum::http::{header, Request};
    let app = TestApp::new(pool).await;
    let request = Request::post("/api/cameras/create")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, "http://127.0.0.1:3000/cameras")
        .header(header::AUTHORIZATION, format!("Token {}", app.admin))
        .body(Body::from(
            "name=gate-1&url=rtsp%3A%2F%2Fadmin%3Ahunter22%40cam.local%2Fs&fps=500&enabled=on",
        ))
        .unwrap();
    let answer = app.send(request).await;
    assert!(answer.status.is_redirection(), "{}", answer.status);
    let location = answer.headers[header::LOCATION].to_str().unwrap();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let typed = &query.iter().find(|(k, _)| k == "__typed").unwrap().1;
    let typed: Vec<(String, String)> = form_urlencoded::parse(typed.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        typed
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("name"), Some("gate-1"));
    assert_eq!(field("fps"), Some("500"));
    assert_eq!(field("url"), Some("rtsp://admin:***@cam.local/s"));
    assert!(!location.contains("hunter22"), "{location}");
    assert_eq!(app.count("cameras").await, 0);
}
