//! Webhooks: a match on a list with `notify` is posted to every webhook whose filters it passes,
//! signed with the webhook's secret; a receiver that fails is tried again later and the log
//! says what happened; a receiver that hangs does not hold ingest up.

use super::{post_photo, watched};
use crate::helpers::{serve, test_photo, TestApp};
use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The installation's webhook sender, running as `dossier serve` runs it.
fn webhook_sender(app: &TestApp) -> engine::workers::Workers {
    let mut workers = app.state.installation.workers();
    let (pool, bell) = (app.pool.clone(), app.state.monitoring.deliveries.clone());
    workers.start(move || {
        engine::monitoring::webhooks::sender::Sender::new(pool.clone(), bell.clone())
    });
    workers
}

/// What a receiver got: (signature header, body).
type Received = Arc<Mutex<Vec<(String, Bytes)>>>;

/// A receiver that answers 500 to the first `failures` posts, then 200.
async fn receiver(failures: usize) -> (String, Received) {
    let got: Received = Arc::default();
    let router = Router::new()
        .route(
            "/hook",
            post(
                |State((got, failures)): State<(Received, usize)>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let mut got = got.lock().unwrap();
                    let signature = headers
                        .get(domain::monitoring::webhooks::SIGNATURE_HEADER)
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    got.push((signature, body));
                    if got.len() <= failures {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        )
        .with_state((got.clone(), failures));
    let (url, _task) = serve(router).await;
    (format!("{url}/hook"), got)
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_match_is_posted_signed_and_retried_until_delivered(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let sender = webhook_sender(&app);
    let (list, dossier) = watched(&app, "Alerting", json!({"notify": true}), "obama.jpg").await;
    let (quiet, _) = watched(&app, "Quiet", json!({}), "biden.jpg").await;
    let (url, got) = receiver(1).await;
    let secret = "a shared secret of the receiver";
    let hook = app
        .ok(
            "webhooks/create",
            &app.admin,
            json!({"url": url, "secret": secret, "cameras": "gate-1"}),
        )
        .await;
    assert_eq!(hook[1], secret);
    // Only administrators manage webhooks; a bad URL is refused.
    let refused = app
        .call("webhooks/create", Some(&app.operator), json!({"url": url}))
        .await;
    assert_eq!(refused.status, 403);
    let bad = app
        .call(
            "webhooks/create",
            Some(&app.admin),
            json!({"url": "ftp://x"}),
        )
        .await;
    assert_eq!(bad.status, 400);

    // A match of the list with notify, at the camera the webhook wants: posted.
    let event = post_photo(&app, "gate-1", &test_photo("obama2.jpg"))
        .await
        .json();
    let event_id = event["events"][0]["id"].as_i64().unwrap();
    // Not posted: a quiet list's match, another camera, an unmatched face.
    post_photo(&app, "gate-1", &test_photo("biden.jpg")).await;
    post_photo(&app, "gate-2", &test_photo("obama3.jpg")).await;
    assert_eq!(app.count("webhook_deliveries").await, 1);

    // The first attempt is answered 500; the retry (5 s later) is delivered.
    wait_for("the retry delivered", async || {
        let view = app.ok("webhooks/list", &app.admin, json!({})).await;
        view["webhooks"][0][0]["delivered"] == 1
    })
    .await;
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let (signature, body) = &got[1];
    assert_eq!(
        signature,
        &engine::monitoring::webhooks::store::sign(secret, body)
    );
    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["event"]["id"], event_id);
    assert_eq!(payload["event"]["dossier"]["id"], dossier);
    assert_eq!(payload["event"]["watch_list"]["id"], list);
    assert_eq!(payload["event"]["watch_list"]["name"], "Alerting");
    assert_eq!(payload["event"]["camera"], "gate-1");
    let view = app.ok("webhooks/list", &app.admin, json!({})).await;
    let delivery = &view["webhooks"][0][1][0];
    assert_eq!(delivery["state"], "delivered");
    assert_eq!(delivery["attempts"], 2);
    let _ = quiet;
    sender.stop(std::time::Duration::from_secs(5)).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_receiver_that_hangs_does_not_slow_ingest(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let sender = webhook_sender(&app);
    watched(&app, "Alerting", json!({"notify": true}), "obama.jpg").await;
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    app.ok(
        "webhooks/create",
        &app.admin,
        json!({"url": format!("http://{address}/hook")}),
    )
    .await;
    let photo = test_photo("obama2.jpg");
    for _ in 0..3 {
        let start = Instant::now();
        let answer = post_photo(&app, "gate", &photo).await;
        assert_eq!(answer.status, 201);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "ingest waited for the receiver"
        );
    }
    // The sender gives up on each attempt after its timeout and records why.
    wait_for("the timeouts recorded", async || {
        let failed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM webhook_deliveries WHERE last_error LIKE 'no answer%'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        failed == 3
    })
    .await;
    sender.stop(std::time::Duration::from_secs(5)).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_face_from_a_chosen_camera_is_posted_and_no_other_is(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let sender = webhook_sender(&app);
    let list = app
        .ok(
            "watch-lists/create",
            &app.operator,
            json!({"name": "Alerting", "active": true, "notify": true}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let dossier = app.dossier("Jane Roe", &[list]).await;
    crate::helpers::add_photo(&app, dossier, 1, Some("[1, 0, 0, 0]")).await;
    super::indexed(&app).await;
    let (url, got) = receiver(0).await;
    app.ok(
        "webhooks/create",
        &app.admin,
        json!({"url": url, "cameras": "yard", "unknown_cameras": "yard, dock"}),
    )
    .await;
    let listed = app.ok("webhooks/list", &app.admin, json!({})).await;
    assert_eq!(
        listed["webhooks"][0][0]["unknown_cameras"],
        json!(["yard", "dock"])
    );
    let post = |camera: &str, vector: [f32; 4]| {
        super::post_json(
            &app,
            json!({"camera": camera, "model": "face-v1", "vectors": [vector]}),
        )
    };
    let stranger = [0.0, 0.0, 1.0, 0.0];
    // A stranger in the yard after hours: posted. At the gate: not. Jane in the yard: a match.
    let unknown = post("yard", stranger).await.json()["events"][0]["id"].clone();
    post("gate", stranger).await;
    let jane = post("yard", [1.0, 0.0, 0.0, 0.0]).await.json()["events"][0]["id"].clone();
    wait_for("two deliveries", async || got.lock().unwrap().len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bodies: Vec<Value> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| serde_json::from_slice(body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let of = |id: &Value| {
        bodies
            .iter()
            .find(|b| &b["event"]["id"] == id)
            .unwrap()
            .clone()
    };
    let u = of(&unknown);
    assert_eq!(u["kind"], "face.unknown");
    assert_eq!(u["event"]["camera"], "yard");
    assert!(u["event"].get("dossier").is_none(), "{u}");
    let m = of(&jane);
    assert_eq!(m["kind"], "face.matched");
    assert_eq!(m["event"]["dossier"]["id"], dossier);
    // A camera name longer than any is refused, naming the field.
    let bad = app
        .call(
            "webhooks/create",
            Some(&app.admin),
            json!({"url": "http://127.0.0.1:9/x", "unknown_cameras": "x".repeat(200)}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["field"], "unknown_cameras");
    sender.stop(Duration::from_secs(5)).await;
}
