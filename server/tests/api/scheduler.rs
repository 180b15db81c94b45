//! The scheduler runs due replicas side by side (up to `SYNC_CONCURRENCY`, one at a time per
//! Leader): a Leader that is slow to answer holds back only its own replicas. And `/metrics`
//! counts scheduler panics.

use crate::helpers::{drop_database, fresh_database, serve, settings, test_actor, TestApp};
use axum::{extract::Request, middleware::Next};
use engine::sync::replicas;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

async fn last_success(pool: &PgPool, replica: i64) -> bool {
    sqlx::query_scalar("SELECT last_success_at IS NOT NULL FROM replicas WHERE id = $1")
        .bind(replica)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_until_synced(pool: &PgPool, replica: i64) {
    let started = Instant::now();
    while !last_success(pool, replica).await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replica {replica} never finished a run"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A Leader whose pages of `gated_list` wait until the test lets them through.
async fn gated_leader(
    leader: &TestApp,
    gated_list: i64,
) -> (String, tokio::task::JoinHandle<()>, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let gated_path = format!("/sync/leader/dossier-lists/{gated_list}/changes");
    let held = gate.clone();
    let router = leader.router.clone().layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let (gated, held) = (request.uri().path() == gated_path, held.clone());
            async move {
                if gated {
                    held.acquire().await.unwrap().forget();
                }
                next.run(request).await
            }
        },
    ));
    let (url, task) = serve(router).await;
    (url, task, gate)
}

async fn replicate(sub: &TestApp, leader_url: &str, remote: i64, name: &str) -> i64 {
    let local = sub.watch_list(name).await;
    sub.subscribed(leader_url, remote, local).await
}

async fn state(pool: &PgPool, replica: i64) -> String {
    sqlx::query_scalar("SELECT state FROM replicas WHERE id = $1")
        .bind(replica)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_slow_leader_does_not_hold_back_another_leaders_replica(pool: PgPool) {
    let (quick_pool, quick_db) = fresh_database(&pool).await;
    let (sub_pool, sub_db) = fresh_database(&pool).await;
    let slow = TestApp::new(pool.clone()).await;
    let held_list = slow.watch_list("Held up").await;
    let later_list = slow.watch_list("After it").await;
    slow.dossier("In the held list", &[held_list]).await;
    slow.dossier("In the later list", &[later_list]).await;
    let (slow_url, slow_task, gate) = gated_leader(&slow, held_list).await;
    let quick = TestApp::new(quick_pool).await;
    let quick_list = quick.watch_list("Quick").await;
    quick.dossier("In the quick list", &[quick_list]).await;
    let (quick_url, quick_task) = serve(quick.router.clone()).await;

    let mut subscriber_settings = settings();
    subscriber_settings.engine.sync.at_creation = false;
    subscriber_settings.engine.sync.concurrency = engine::settings::Bounded::new(4);
    let sub = TestApp::with_settings(sub_pool, subscriber_settings).await;
    let held = replicate(&sub, &slow_url, held_list, "Held up (replica)").await;
    let later = replicate(&sub, &slow_url, later_list, "After it (replica)").await;
    let quick_replica = replicate(&sub, &quick_url, quick_list, "Quick (replica)").await;

    let mut scheduler = sub.state.installation.workers();
    let replication = sub.state.replication.clone();
    scheduler.start(move || engine::sync::scheduler::Scheduler::new(replication.clone()));
    for replica in [held, later, quick_replica] {
        replicas::sync_now(&sub.state.replication, &test_actor(), replica)
            .await
            .unwrap();
    }

    // The other Leader's replica completes while the slow Leader keeps its first run waiting;
    // that Leader's second replica waits its turn.
    wait_until_synced(&sub.pool, quick_replica).await;
    assert_eq!(state(&sub.pool, held).await, "running");
    assert!(!last_success(&sub.pool, held).await);
    assert!(!last_success(&sub.pool, later).await);

    // Let the slow Leader answer: both its replicas complete, one after the other.
    gate.add_permits(1000);
    wait_until_synced(&sub.pool, held).await;
    wait_until_synced(&sub.pool, later).await;
    assert_eq!(sub.state.installation.health.workers()[0].panics(), 0);
    let metrics = sub.get("/metrics", None).await;
    assert!(String::from_utf8_lossy(&metrics.body).contains("dossier_sync_scheduler_panics 0"));

    scheduler.stop(Duration::from_secs(5)).await;
    slow_task.abort();
    quick_task.abort();
    drop_database(&pool, quick.pool.clone(), &quick_db).await;
    drop_database(&pool, sub.pool.clone(), &sub_db).await;
}
