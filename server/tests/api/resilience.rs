//! Replication under failure: the Subscriber process killed mid-run, the Leader vanishing
//! mid-run, and a fake Leader that answers errors, garbage, or nothing at all.

use crate::helpers::{drop_database, fresh_database, serve, settings, test_actor, TestApp};
use crate::process::{free_address, wait_for, Server};
use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
    Router,
};
use engine::sync::error::SyncError;
use engine::sync::replicas;
use engine::sync::run::{self, RunOutcome};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

/// The Leader answers pages of changes slowly, so that a run can be caught in the middle.
pub(crate) async fn slow_pages(request: Request, next: Next) -> Response {
    if request.uri().path().ends_with("/changes") {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    next.run(request).await
}

pub(crate) async fn replica_state(pool: &PgPool) -> (String, i64, Option<i64>, bool) {
    sqlx::query_as(
        "SELECT state, items_done, run_id, last_success_at IS NOT NULL FROM replicas LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

pub(crate) async fn digests_match(leader: &PgPool, remote: i64, sub: &PgPool) -> bool {
    let leader: (i64, String) = sqlx::query_as(&engine::sync::feed::digest_sql(
        "FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id WHERE m.watch_list_id = $1",
        "d.id",
    ))
    .bind(remote)
    .fetch_one(leader)
    .await
    .unwrap();
    let local: (i64, String) = sqlx::query_as(&engine::sync::feed::digest_sql(
        "FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id
         JOIN remote_dossiers r ON r.dossier_id = d.id
         WHERE m.watch_list_id = (SELECT watch_list_id FROM replicas LIMIT 1)",
        "r.remote_id",
    ))
    .fetch_one(sub)
    .await
    .unwrap();
    leader == local
}

/// A Leader with `dossiers` demo dossiers; returns it and the id of its list "Demo: wanted" (half
/// of them).
pub(crate) async fn leader_with_demo_data(pool: PgPool, dossiers: u32) -> (TestApp, i64) {
    let leader = TestApp::new(pool.clone()).await;
    engine::demo::add(&pool, dossiers).await.unwrap();
    let remote = sqlx::query_scalar("SELECT id FROM watch_lists WHERE name = 'Demo: wanted'")
        .fetch_one(&pool)
        .await
        .unwrap();
    (leader, remote)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_subscriber_killed_mid_run_resumes_and_converges(pool: PgPool) {
    let (sub_pool, sub_url) = fresh_database(&pool).await;
    let (leader, remote) = leader_with_demo_data(pool.clone(), 3000).await;
    let (leader_url, leader_task) = serve(
        leader
            .router
            .clone()
            .layer(axum::middleware::from_fn(slow_pages)),
    )
    .await;

    // The Subscriber: its own database, its own process (the real binary).
    let sub = TestApp::new(sub_pool.clone()).await;
    let local = sub.watch_list("Replica").await;
    let address = free_address();
    let process = Server::start(&sub_url, &address, &[]);
    process.ready().await;
    process
        .subscribe(&sub.admin, &leader_url, remote, local)
        .await;

    // SYNC_AT_CREATION starts the run; kill the process once some pages are applied.
    wait_for(
        "the run to be half-way",
        Duration::from_secs(30),
        || async {
            let (_, done, _, _) = replica_state(&sub_pool).await;
            done >= 1000
        },
    )
    .await;
    process.kill9();
    let (_, done_at_kill, run, finished) = replica_state(&sub_pool).await;
    assert!(
        run.is_some() && !finished,
        "killed in the middle of the run"
    );
    assert!(done_at_kill < 1500);

    // Restarted, it picks the run up where it stopped and finishes it.
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
        1500,
        "nothing lost, nothing duplicated"
    );
    assert_eq!(sub.count("remote_dossiers").await, 1500);
    let outcomes: Vec<(String, i64)> =
        sqlx::query_as("SELECT outcome, dossiers FROM sync_runs ORDER BY id")
            .fetch_all(&sub_pool)
            .await
            .unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(outcomes[0].0, "interrupted");
    assert_eq!(outcomes[1].0, "success");
    assert!(
        outcomes[1].1 < 1500,
        "the second attempt resumed instead of starting over: {outcomes:?}"
    );

    leader_task.abort();
    drop(_process);
    drop_database(&pool, sub_pool, &sub_url).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_leader_vanishing_mid_run_loses_nothing_and_the_next_run_finishes(pool: PgPool) {
    let (sub_pool, sub_url) = fresh_database(&pool).await;
    let (leader, remote) = leader_with_demo_data(pool.clone(), 3000).await;
    let slow = leader
        .router
        .clone()
        .layer(axum::middleware::from_fn(slow_pages));
    let (leader_url, leader_task) = serve(slow.clone()).await;
    let mut quick = settings();
    quick.engine.sync.request_timeout = Duration::from_secs(2);
    let sub = TestApp::with_settings(sub_pool.clone(), quick).await;
    let local = sub.watch_list("Replica").await;
    let replica = replicas::create(
        &sub.state.replication,
        &test_actor(),
        replicas::NewReplica {
            remote_url: leader_url.clone(),
            remote_list: remote,
            local_list: local,
        },
    )
    .await
    .unwrap()
    .id;

    let state = sub.state.clone();
    let run = tokio::spawn(async move { run::run(&state.replication, replica).await });
    wait_for(
        "the run to be half-way",
        Duration::from_secs(30),
        || async { replica_state(&sub_pool).await.1 >= 500 },
    )
    .await;
    leader_task.abort();
    let failed = run.await.unwrap();
    assert!(
        matches!(failed, Err(SyncError::Unreachable { .. })),
        "{failed:?}"
    );
    let (state, done, run_id, _) = replica_state(&sub_pool).await;
    assert_eq!(state, "failed");
    assert!(run_id.is_some() && done >= 500);
    let (failures, next): (i32, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT failures, next_run_at FROM replicas WHERE id = $1")
            .bind(replica)
            .fetch_one(&sub_pool)
            .await
            .unwrap();
    assert_eq!(failures, 1);
    assert!(next > chrono::Utc::now(), "the retry waits for its backoff");

    let listener = tokio::net::TcpListener::bind(leader_url.trim_start_matches("http://"))
        .await
        .unwrap();
    let back = tokio::spawn(async move { axum::serve(listener, slow).await.unwrap() });
    assert!(matches!(
        run::run(&sub.state.replication, replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert!(digests_match(&pool, remote, &sub_pool).await);
    assert_eq!(sub.count("dossiers").await, 1500);
    back.abort();
    drop_database(&pool, sub_pool, &sub_url).await;
}

/// The settings of the fake Leader's list.
static FAKE_LIST: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
    json!({"comment": "", "color": "#000000", "active": true, "acknowledge": false,
           "notify": false, "confidence_threshold": null})
});

/// A Leader that says the right things about itself but misbehaves when asked for changes.
fn fake_leader(changes: axum::routing::MethodRouter) -> Router {
    Router::new()
        .route(
            "/sync/leader/info",
            axum::routing::get(|| async {
                axum::Json(json!({"kind": "dossier-leader", "face_model": "face-v1", "face_vector_length": 4,
                    "installation_id": "fake-leader", "epoch": "fake-epoch", "revision": 5}))
            }),
        )
        .route(
            "/sync/leader/dossier-lists/",
            axum::routing::get(|| async { axum::Json(json!([{"id": 1, "name": "L", "color": "#000000", "dossier_count": 3}])) }),
        )
        .route("/sync/leader/dossier-lists/{id}/changes", changes)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_misbehaving_leader_fails_the_run_clearly_and_changes_nothing(pool: PgPool) {
    let mut quick = settings();
    quick.engine.sync.request_timeout = Duration::from_millis(500);
    let sub = TestApp::with_settings(pool.clone(), quick).await;
    let cases: Vec<(axum::routing::MethodRouter, &str)> = vec![
        (
            axum::routing::get(|| async {
                (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "database on fire",
                )
            }),
            "the Leader answered 500: database on fire",
        ),
        (
            axum::routing::get(|| async { "{\"until\": 5, \"upserts\": [garbage" }),
            "unexpected answer",
        ),
        (
            axum::routing::get(|| async {
                axum::Json(
                    json!({"until": 5, "epoch": "fake-epoch", "list": FAKE_LIST.clone(), "total": 1, "upserts": [{"id": 1, "name": "X", "comment": "", "active": true, "meta": {}, "photos": [{"sha256": "zz", "face_model": null, "face_vector": null}]}], "removals": [], "next_after": null}),
                )
            }),
            "is not hex",
        ),
        (
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "too late"
            }),
            "cannot be reached",
        ),
    ];
    for (i, (changes, expected)) in cases.into_iter().enumerate() {
        let (url, task) = serve(fake_leader(changes)).await;
        let local = sub.watch_list(&format!("Replica {i}")).await;
        let replica = replicas::create(
            &sub.state.replication,
            &test_actor(),
            replicas::NewReplica {
                remote_url: url,
                remote_list: 1,
                local_list: local,
            },
        )
        .await
        .unwrap()
        .id;
        let outcome = run::run(&sub.state.replication, replica).await;
        let error = outcome.expect_err("the run fails").to_string();
        assert!(error.contains(expected), "case {i}: {error}");
        let (state, last_error): (String, Option<String>) =
            sqlx::query_as("SELECT state, last_error FROM replicas WHERE id = $1")
                .bind(replica)
                .fetch_one(&sub.pool)
                .await
                .unwrap();
        assert_eq!(state, "failed");
        assert_eq!(last_error.as_deref(), Some(error.as_str()));
        assert_eq!(sub.count("dossiers").await, 0, "case {i}: nothing applied");
        task.abort();
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn interleaved_full_syncs_of_two_lists_sharing_dossiers_lose_nothing(pool: PgPool) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (sub_pool, sub_url) = fresh_database(&pool).await;
    let leader = TestApp::new(pool.clone()).await;
    let one = leader.watch_list("One").await;
    let two = leader.watch_list("Two").await;
    // 600 dossiers in both lists: three pages each (the tests ask for pages of 250).
    sqlx::query(
        "WITH d AS (INSERT INTO dossiers (name) SELECT 'Shared ' || n FROM generate_series(1, 600) n RETURNING id)
         INSERT INTO dossier_watch_lists (watch_list_id, dossier_id)
         SELECT l, d.id FROM d, UNNEST($1::bigint[]) AS l",
    )
    .bind(vec![one, two])
    .execute(&pool)
    .await
    .unwrap();
    // The Leader fails list One's second page, once.
    let failed_once = Arc::new(AtomicBool::new(false));
    let flag = failed_once.clone();
    let path_one = format!("/sync/leader/dossier-lists/{one}/changes");
    let flaky = leader.router.clone().layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let flag = flag.clone();
            let path_one = path_one.clone();
            async move {
                let second_page = request.uri().path() == path_one
                    && request
                        .uri()
                        .query()
                        .is_some_and(|q| !q.contains("after=0"));
                if second_page && !flag.swap(true, Ordering::SeqCst) {
                    return axum::http::StatusCode::BAD_REQUEST.into_response();
                }
                next.run(request).await
            }
        },
    ));
    let (leader_url, task) = serve(flaky).await;
    let sub = TestApp::new(sub_pool.clone()).await;
    let mut replicas = Vec::new();
    for (remote, name) in [(one, "One here"), (two, "Two here")] {
        let local = sub.watch_list(name).await;
        let created = replicas::create(
            &sub.state.replication,
            &test_actor(),
            replicas::NewReplica {
                remote_url: leader_url.clone(),
                remote_list: remote,
                local_list: local,
            },
        )
        .await
        .unwrap();
        replicas.push((created.id, local));
    }
    assert!(
        run::run(&sub.state.replication, replicas[0].0)
            .await
            .is_err(),
        "list One stops after its first page"
    );
    assert!(failed_once.load(Ordering::SeqCst));
    assert!(matches!(
        run::run(&sub.state.replication, replicas[1].0).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert!(matches!(
        run::run(&sub.state.replication, replicas[0].0).await,
        Ok(RunOutcome::Done { .. })
    ));
    for (_, local) in &replicas {
        let members: i64 =
            sqlx::query_scalar("SELECT count(*) FROM dossier_watch_lists WHERE watch_list_id = $1")
                .bind(local)
                .fetch_one(&sub_pool)
                .await
                .unwrap();
        assert_eq!(members, 600);
    }
    assert_eq!(
        sub.count("dossiers").await,
        600,
        "one local dossier per Leader dossier"
    );
    task.abort();
    drop_database(&pool, sub_pool, &sub_url).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dead_run_is_closed_though_another_database_claims_a_replica_of_the_same_id(
    pool: PgPool,
) {
    // Two installations on one PostgreSQL (a Leader beside its Subscriber) number their
    // replicas alike. The other database's live claim of replica `id` is not this one's.
    let (sub_pool, sub_url) = fresh_database(&pool).await;
    let sub = TestApp::new(sub_pool.clone()).await;
    let local = sub.watch_list("Replica").await;
    let replica: i64 = sqlx::query_scalar(
        "INSERT INTO replicas (watch_list_id, remote_url, remote_list_id, state)
         VALUES ($1, 'http://leader.invalid', 1, 'running') RETURNING id",
    )
    .bind(local)
    .fetch_one(&sub_pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO sync_runs (replica_id, full_resync, cursor_from) VALUES ($1, true, 0)",
    )
    .bind(replica)
    .execute(&sub_pool)
    .await
    .unwrap();
    let mut other = pool.acquire().await.unwrap();
    let claimed: bool = sqlx::query_scalar(engine::locks::TRY_CLAIM_REPLICA)
        .bind(replica)
        .fetch_one(&mut *other)
        .await
        .unwrap();
    assert!(claimed);

    run::close_interrupted_runs(&sub_pool).await.unwrap();
    let outcome: String = sqlx::query_scalar("SELECT outcome FROM sync_runs")
        .fetch_one(&sub_pool)
        .await
        .unwrap();
    assert_eq!(outcome, "interrupted", "the run's process is gone");

    drop(other);
    drop(sub);
    drop_database(&pool, sub_pool, &sub_url).await;
}
