//! Hits under faults: a link that loses every third answer and delays others, the worker left
//! to itself (the bell, the backoff, a stop that drains), and a replica cancelled while its
//! matches wait for a Leader that is away.

use super::Fleet;
use crate::helpers::serve;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A proxy before `leader` that passes replication through as it is, and of the hits'
/// deliveries delays every third one by 300 ms and loses the Leader's answer to the next
/// (the Leader took the batch; the Subscriber never hears so).
async fn lossy_link(leader: String) -> String {
    let deliveries = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let forward = move |request: Request<Body>| {
        let (leader, client, deliveries) = (leader.clone(), client.clone(), deliveries.clone());
        async move {
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let hits = path.starts_with("/sync/leader/events");
            let n = if hits {
                deliveries.fetch_add(1, Ordering::SeqCst) + 1
            } else {
                0
            };
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            if hits && n % 3 == 1 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let mut out = client.request(parts.method, format!("{leader}{path}"));
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    out = out.header(name, value);
                }
            }
            let answer = match out.body(body).send().await {
                Ok(answer) => answer,
                Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
            };
            if hits && n % 3 == 2 {
                return (StatusCode::BAD_GATEWAY, "the answer was lost").into_response();
            }
            let status = answer.status();
            let content_type = answer.headers().get("content-type").cloned();
            let bytes = answer.bytes().await.unwrap_or_default();
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            if let Some(t) = content_type {
                response.headers_mut().insert("content-type", t);
            }
            response
        }
    };
    serve(axum::Router::new().fallback(forward)).await.0
}

/// Each side's acknowledged events, as (the site's event id, who).
async fn acknowledged(fleet: &Fleet) -> (Vec<(i64, String)>, Vec<(i64, String)>) {
    let sub: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, acknowledged_by FROM events WHERE acknowledged_at IS NOT NULL ORDER BY id",
    )
    .fetch_all(&fleet.sub.pool)
    .await
    .unwrap();
    let leader: Vec<(i64, String)> = sqlx::query_as(
        "SELECT origin_id, acknowledged_by FROM events WHERE acknowledged_at IS NOT NULL
          ORDER BY origin_id",
    )
    .fetch_all(&fleet.leader.pool)
    .await
    .unwrap();
    (sub, leader)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lossy_link_delivers_every_match_once_and_acknowledgements_converge(
    leader_pool: sqlx::PgPool,
) {
    let fleet = Fleet::reached(leader_pool, lossy_link).await;
    // Matches and deliveries interleaved, so that lost answers fall on several batches.
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(fleet.sighting(&format!("gate-{}", i % 3)).await);
        fleet.deliver().await;
    }
    let settle = || async {
        for _ in 0..12 {
            fleet.deliver().await;
        }
    };
    settle().await;
    assert_eq!(fleet.leader.count("events").await, 12);
    assert_eq!(fleet.backlog().await["pending"], 0);
    // Acknowledged on both sides, some of the same events on both: each side ends with the
    // earlier of the two.
    let leader_ids: Vec<(i64, i64)> =
        sqlx::query_as("SELECT origin_id, id FROM events ORDER BY origin_id")
            .fetch_all(&fleet.leader.pool)
            .await
            .unwrap();
    for (_, id) in &leader_ids[0..4] {
        fleet
            .leader
            .ok("events/acknowledge", &fleet.leader.admin, json!({"id": id}))
            .await;
    }
    for id in &ids[2..7] {
        let answer = fleet
            .sub
            .call(
                "events/acknowledge",
                Some(&fleet.sub.operator),
                json!({"id": id}),
            )
            .await;
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    settle().await;
    let (sub, leader) = acknowledged(&fleet).await;
    assert_eq!(sub.len(), 7, "{sub:?}");
    assert_eq!(sub, leader);
    // The Leader's came first where both acknowledged.
    assert!(sub[..4].iter().all(|(_, by)| by == "admin"), "{sub:?}");
    assert!(sub[4..].iter().all(|(_, by)| by == "operator"), "{sub:?}");
    assert_eq!(fleet.leader.count("events").await, 12);
    fleet.done().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_worker_delivers_within_seconds_and_a_stop_drains_it(leader_pool: sqlx::PgPool) {
    let fleet = Fleet::new(leader_pool).await;
    let installation = &fleet.sub.state.installation;
    let mut workers = installation.workers();
    let hits = installation.hits.clone();
    workers.start(move || engine::hits::delivery::Delivery::new(hits.clone()));
    fleet.sighting("gate").await;
    let waited = tokio::time::Instant::now();
    while fleet.leader.count("events").await < 1 {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the match did not reach the Leader"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The heartbeat made the site known, with nothing waiting.
    let sites = fleet
        .leader
        .ok("sites/list", &fleet.leader.admin, json!({}))
        .await;
    assert_eq!(sites[0]["events"], 1);
    // The Subscriber's /metrics says what waits and when it last delivered.
    let metrics = fleet.sub.get("/metrics", None).await;
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    let leader = format!("leader=\"{}\"", fleet.leader_url);
    assert!(
        text.lines().any(|l| l.starts_with("dossier_hits_backlog{")
            && l.contains(&leader)
            && l.ends_with(" 0")),
        "{text}"
    );
    assert!(
        text.contains("dossier_hits_last_delivery_age_seconds{"),
        "{text}"
    );
    let cut = workers.stop(Duration::from_secs(10)).await;
    assert!(cut.is_empty(), "{cut:?}");
    fleet.done().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cancelled_replica_still_sends_what_waits_and_nothing_after(leader_pool: sqlx::PgPool) {
    let mut fleet = Fleet::new(leader_pool).await;
    fleet.leader_away().await;
    fleet.sighting("gate").await;
    fleet.sighting("gate").await;
    assert!(!fleet.deliver().await);
    let cancelled = fleet
        .sub
        .send(
            Request::delete(format!("/sync/dossier-lists/{}/", fleet.replica))
                .header("authorization", format!("Token {}", fleet.sub.admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(cancelled.status.is_success(), "{}", cancelled.status);
    let waiting = fleet.backlog().await;
    assert_eq!(waiting["pending"], 2, "{waiting}");
    assert_eq!(waiting["orphaned"], true, "{waiting}");
    // A match on the list after the cancellation is this site's own.
    let after = fleet
        .sub
        .post(
            "/api/events/faces",
            Some(&fleet.sub.camera),
            json!({"camera": "gate", "model": "face-v1", "vectors": [super::FACE]}),
        )
        .await;
    assert_eq!(after.status, 201);
    fleet.leader_back().await;
    fleet.deliver().await;
    assert_eq!(fleet.leader.count("events").await, 2);
    let done: Value = fleet.backlog().await;
    assert_eq!(done["pending"], 0, "{done}");
    fleet.done().await;
}
