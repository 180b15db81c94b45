//! Stopping the real binary with SIGTERM, as `systemctl stop` does: it stops accepting
//! requests, lets the work in flight finish (a sync page, webhook deliveries), saves its face
//! index, exits 0 within its bound, and the next start goes on from there: the sync resumes,
//! no delivery is lost or sent twice, the index is loaded whole. And killing it mid-delivery:
//! the next process sends it again at once.

use crate::helpers::{add_photo, drop_database, fresh_database, serve, TestApp};
use crate::process::{free_address, wait_for, Server};
use crate::resilience::{digests_match, leader_with_demo_data, replica_state, slow_pages};
use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post, Router};
use serde_json::json;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The stop's bound (`serve::STOP_BOUND`) and some room for the process to exit.
const STOP_LIMIT: Duration = Duration::from_secs(25);

#[sqlx::test(migrations = "../migrations")]
async fn a_sigterm_during_a_full_sync_ends_its_page_records_where_it_stopped_and_exits_zero(
    pool: PgPool,
) {
    let (sub_pool, sub_url) = fresh_database(&pool).await;
    // 4000 dossiers in the list: four pages of a thousand, each slow to come.
    let (leader, remote) = leader_with_demo_data(pool.clone(), 8000).await;
    const LIST: i64 = 4000;
    let (leader_url, leader_task) = serve(
        leader
            .router
            .clone()
            .layer(axum::middleware::from_fn(slow_pages)),
    )
    .await;
    let sub = TestApp::new(sub_pool.clone()).await;
    let local = sub.watch_list("Replica").await;
    let address = free_address();
    let process = Server::start(&sub_url, &address, &[("RUST_LOG", "info")]);
    process.ready().await;
    process
        .subscribe(&sub.admin, &leader_url, remote, local)
        .await;
    wait_for(
        "the run to be under way",
        Duration::from_secs(30),
        || async { replica_state(&sub_pool).await.1 >= 1000 },
    )
    .await;

    let (status, took, log) = process.sigterm(STOP_LIMIT).await;
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(log.contains("stopped"), "{log}");
    let (state, done, run, finished) = replica_state(&sub_pool).await;
    assert_eq!(state, "idle", "not left running, not failed");
    assert!(
        run.is_some() && !finished && (1000..LIST).contains(&done),
        "{done}"
    );
    let (outcome, reason, dossiers): (String, Option<String>, i64) =
        sqlx::query_as("SELECT outcome, reason, dossiers FROM sync_runs ORDER BY id DESC LIMIT 1")
            .fetch_one(&sub_pool)
            .await
            .unwrap();
    assert_eq!(outcome, "interrupted");
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.contains("stopped with the server")),
        "{reason:?}"
    );
    assert_eq!(
        dossiers, done,
        "its record counts what its committed pages wrote"
    );
    assert!(took < Duration::from_secs(20), "stopped in {took:?}");

    // Started again, it resumes where it stopped and converges.
    let _process = Server::start(&sub_url, &address, &[]);
    wait_for(
        "the resumed run to finish",
        Duration::from_secs(60),
        || async { replica_state(&sub_pool).await.3 },
    )
    .await;
    assert!(digests_match(&pool, remote, &sub_pool).await);
    assert_eq!(
        sub.count("dossiers").await,
        LIST,
        "nothing lost, nothing twice"
    );
    let resumed: i64 = sqlx::query_scalar(
        "SELECT dossiers FROM sync_runs WHERE outcome = 'success' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&sub_pool)
    .await
    .unwrap();
    assert_eq!(resumed, LIST - done, "the next run went on from the stop");
    leader_task.abort();
    drop_database(&pool, sub_pool, &sub_url).await;
}

/// What a receiver got: how many times each delivery came.
type Deliveries = Arc<Mutex<HashMap<String, u32>>>;

/// A webhook receiver that takes `delay` to answer each delivery.
async fn slow_receiver(delay: Duration) -> (String, Deliveries) {
    let got: Deliveries = Arc::default();
    let router = Router::new()
        .route(
            "/hook",
            post(
                move |State(got): State<Deliveries>, headers: HeaderMap, _: Bytes| async move {
                    let id = headers
                        .get("x-dossier-delivery")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    tokio::time::sleep(delay).await;
                    *got.lock().unwrap().entry(id).or_default() += 1;
                    "thanks"
                },
            ),
        )
        .with_state(got.clone());
    let (url, _) = serve(router).await;
    (format!("{url}/hook"), got)
}

async fn deliveries_in(pool: &PgPool, state: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE state = $1")
        .bind(state)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sigterm_during_webhook_deliveries_finishes_those_in_flight_and_sends_none_twice(
    pool: PgPool,
) {
    let (db, url) = fresh_database(&pool).await;
    let app = TestApp::new(db.clone()).await;
    let list = app
        .ok(
            "watch-lists/create",
            &app.operator,
            json!({"name": "Alerting", "active": true, "notify": true}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let dossier = app.dossier("Watched", &[list]).await;
    let id = dossier.to_string();
    let photo = app
        .upload(
            &app.operator,
            &[
                ("dossier_id", id.as_bytes()),
                ("image", &engine::demo::portrait(1)),
                ("vector", b"[1, 0, 0, 0]"),
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
    let (hook, got) = slow_receiver(Duration::from_millis(500)).await;
    app.ok("webhooks/create", &app.admin, json!({"url": hook}))
        .await;

    let address = free_address();
    let process = Server::start(&url, &address, &[("RUST_LOG", "info")]);
    process.ready().await;
    let http = reqwest::Client::new();
    const EVENTS: usize = 40;
    for _ in 0..EVENTS {
        let posted = http
            .post(format!("{}/api/events/faces", process.base))
            .header("Authorization", format!("Token {}", app.camera))
            .json(
                &json!({"camera": "gate-1", "model": "face-v1", "vectors": [[1.0, 0.0, 0.0, 0.0]]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 201);
    }
    wait_for("deliveries in flight", Duration::from_secs(30), || async {
        !got.lock().unwrap().is_empty()
    })
    .await;

    let (status, took, log) = process.sigterm(STOP_LIMIT).await;
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(took < Duration::from_secs(20), "stopped in {took:?}");
    let received = got.lock().unwrap().len() as i64;
    let delivered = deliveries_in(&db, "delivered").await;
    assert_eq!(
        delivered, received,
        "every delivery the receiver got is recorded as delivered, so none is sent again"
    );
    assert!(
        delivered < EVENTS as i64,
        "the stop did not wait for all of them"
    );
    let leased: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE leased_by IS NOT NULL")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(leased, 0, "no attempt is left half-claimed");

    // Started again, it delivers the rest at once, each once.
    let _process = Server::start(&url, &address, &[]);
    wait_for("every delivery", Duration::from_secs(60), || async {
        deliveries_in(&db, "delivered").await == EVENTS as i64
    })
    .await;
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), EVENTS);
    assert!(got.values().all(|n| *n == 1), "sent twice: {got:?}");
    drop_database(&pool, db, &url).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_stop_saves_the_face_index_and_the_next_start_loads_every_face(pool: PgPool) {
    let (db, url) = fresh_database(&pool).await;
    let app = TestApp::new(db.clone()).await;
    let list = app.watch_list("Wanted").await;
    let index_dir = std::env::temp_dir().join(format!("dossier-stop-index-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&index_dir);
    let dir = index_dir.to_string_lossy().to_string();
    let env = [("RUST_LOG", "info"), ("FACE_INDEX_DIR", dir.as_str())];
    let address = free_address();
    let process = Server::start(&url, &address, &env);
    process.ready().await;
    // Faces enrolled one by one while the server runs.
    const FACES: usize = 30;
    for n in 0..FACES {
        let dossier = app.dossier(&format!("Person {n}"), &[list]).await;
        let vector = format!("[{}, 1, 0, 0]", n as f32 / 10.0);
        add_photo(&app, dossier, n as u32, Some(&vector)).await;
    }
    let http = reqwest::Client::new();
    let metrics = format!("{}/metrics", process.base);
    wait_for(
        "the index to hold every face",
        Duration::from_secs(30),
        || {
            let (http, metrics) = (http.clone(), metrics.clone());
            async move {
                let text = http
                    .get(metrics)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                text.contains(&format!("dossier_face_index_vectors {FACES}"))
            }
        },
    )
    .await;

    // Every worker is in /metrics, with no panic, and has ended a pass (the webhook sender's
    // first waits for its tick, which a busy machine may delay).
    let workers = [
        "replication-scheduler",
        "webhook-sender",
        "face-index",
        "housekeeping",
    ];
    wait_for("every worker's first pass", Duration::from_secs(30), || {
        let (http, metrics) = (http.clone(), metrics.clone());
        async move {
            let text = http
                .get(metrics)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            workers.iter().all(|worker| {
                text.contains(&format!(
                    "dossier_worker_last_pass_age_seconds{{worker=\"{worker}\"}}"
                ))
            })
        }
    })
    .await;
    let text = http
        .get(&metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for worker in workers {
        assert!(
            text.contains(&format!("dossier_worker_panics{{worker=\"{worker}\"}} 0")),
            "{worker}: {text}"
        );
    }

    let (status, _, log) = process.sigterm(STOP_LIMIT).await;
    assert!(status.success(), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("face index saved") && l.contains(&format!("faces={FACES}"))),
        "{log}"
    );
    let again = Server::start(&url, &address, &env);
    again.ready().await;
    wait_for(
        "the index to be loaded",
        Duration::from_secs(30),
        || async { again.log().contains("face index loaded") },
    )
    .await;
    let log = again.log();
    assert!(
        log.lines()
            .any(|l| l.contains("face index loaded") && l.contains(&format!("faces={FACES}"))),
        "{log}"
    );
    assert!(
        !log.contains("face index built"),
        "loaded, not rebuilt: {log}"
    );
    drop(again);
    let _ = std::fs::remove_dir_all(&index_dir);
    drop_database(&pool, db, &url).await;
}

/// A receiver whose first delivery never gets an answer, and every later one at once.
async fn first_hangs() -> (String, Deliveries) {
    let got: Deliveries = Arc::default();
    let router = Router::new()
        .route(
            "/hook",
            post(
                move |State(got): State<Deliveries>, headers: HeaderMap, _: Bytes| async move {
                    let id = headers
                        .get("x-dossier-delivery")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let first = {
                        let mut got = got.lock().unwrap();
                        let seen = got.values().sum::<u32>() == 0;
                        *got.entry(id).or_default() += 1;
                        seen
                    };
                    if first {
                        std::future::pending::<()>().await;
                    }
                    "thanks"
                },
            ),
        )
        .with_state(got.clone());
    let (url, _) = serve(router).await;
    (format!("{url}/hook"), got)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_delivery_cut_by_a_kill_is_sent_again_at_once_and_counts_one_attempt(pool: PgPool) {
    let (db, url) = fresh_database(&pool).await;
    let app = TestApp::new(db.clone()).await;
    let list = app
        .ok(
            "watch-lists/create",
            &app.operator,
            json!({"name": "Alerting", "active": true, "notify": true}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let dossier = app.dossier("Watched", &[list]).await;
    add_photo(&app, dossier, 1, Some("[1, 0, 0, 0]")).await;
    let (hook, got) = first_hangs().await;
    app.ok("webhooks/create", &app.admin, json!({"url": hook}))
        .await;
    let address = free_address();
    let process = Server::start(&url, &address, &[]);
    process.ready().await;
    let posted = reqwest::Client::new()
        .post(format!("{}/api/events/faces", process.base))
        .header("Authorization", format!("Token {}", app.camera))
        .json(&json!({"camera": "gate-1", "model": "face-v1", "vectors": [[1.0, 0.0, 0.0, 0.0]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    wait_for("the attempt in flight", Duration::from_secs(30), || async {
        !got.lock().unwrap().is_empty()
    })
    .await;
    process.kill9();

    // The next process takes it up on its schedule, without waiting out the dead one's lease.
    let started = std::time::Instant::now();
    let _process = Server::start(&url, &address, &[]);
    wait_for("the delivery", Duration::from_secs(30), || async {
        deliveries_in(&db, "delivered").await == 1
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "delivered {:?} after the restart: it waited for the lease",
        started.elapsed()
    );
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM webhook_deliveries")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(attempts, 1, "the attempt the kill cut is not counted");
    let got = got.lock().unwrap().clone();
    assert_eq!(
        got.values().sum::<u32>(),
        2,
        "at least once: the cut attempt, then the one that ended"
    );
    drop_database(&pool, db, &url).await;
}
