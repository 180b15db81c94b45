//! The scheduler runs due replicas side by side (up to `SYNC_CONCURRENCY`): a Leader that is
//! slow to answer holds back only its own replicas. And `/metrics` counts scheduler panics.

use crate::helpers::{drop_database, fresh_database, serve, settings, TestApp};
use axum::{extract::Request, middleware::Next};
use domain::sync::replicas;
use serde_json::json;
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

#[sqlx::test(migrations = "../migrations")]
async fn a_slow_leader_does_not_hold_back_another_replica(pool: PgPool) {
    let (sub_pool, sub_db) = fresh_database(&pool).await;
    let leader = TestApp::new(pool.clone()).await;
    let slow = leader.watch_list("Slow to answer").await;
    let quick = leader.watch_list("Quick to answer").await;
    leader.dossier("In the quick list", &[quick]).await;
    leader.dossier("In the slow list", &[slow]).await;
    // The slow list's pages wait until the test lets them through.
    let gate = Arc::new(Semaphore::new(0));
    let slow_path = format!("/sync/leader/dossier-lists/{slow}/changes");
    let held = gate.clone();
    let router = leader.router.clone().layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let (slow, held) = (request.uri().path() == slow_path, held.clone());
            async move {
                if slow {
                    held.acquire().await.unwrap().forget();
                }
                next.run(request).await
            }
        },
    ));
    let (leader_url, leader_task) = serve(router).await;

    let mut subscriber_settings = settings();
    subscriber_settings.sync.at_creation = false;
    subscriber_settings.sync.concurrency = 2;
    let sub = TestApp::with_settings(sub_pool, subscriber_settings).await;
    let mut replica_ids = Vec::new();
    for (remote, name) in [(slow, "Slow (replica)"), (quick, "Quick (replica)")] {
        let local = sub.watch_list(name).await;
        let created = sub
            .post(
                "/sync/dossier-lists/",
                Some(&sub.admin),
                json!({"remote_dossier_list": remote, "remote_url": leader_url, "slave_dossier_list": local}),
            )
            .await;
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        replica_ids.push(created.json()["id"].as_i64().unwrap());
    }
    let (slow_replica, quick_replica) = (replica_ids[0], replica_ids[1]);

    let scheduler = domain::sync::scheduler::spawn(sub.state.installation.clone());
    replicas::sync_now(&sub.state, slow_replica).await.unwrap();
    replicas::sync_now(&sub.state, quick_replica).await.unwrap();

    // The quick replica completes while the slow one still waits for its Leader.
    wait_until_synced(&sub.pool, quick_replica).await;
    assert!(!last_success(&sub.pool, slow_replica).await);
    let state: String = sqlx::query_scalar("SELECT state FROM replicas WHERE id = $1")
        .bind(slow_replica)
        .fetch_one(&sub.pool)
        .await
        .unwrap();
    assert_eq!(state, "running");

    // Let the slow Leader answer: its replica completes too.
    gate.add_permits(1000);
    wait_until_synced(&sub.pool, slow_replica).await;
    assert_eq!(sub.state.installation.scheduler.panics(), 0);
    let metrics = sub.get("/metrics", None).await;
    assert!(String::from_utf8_lossy(&metrics.body).contains("dossier_sync_scheduler_panics 0"));

    scheduler.abort();
    leader_task.abort();
    drop_database(&pool, sub.pool.clone(), &sub_db).await;
}
