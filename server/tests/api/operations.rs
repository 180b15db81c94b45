//! Operational basics: health, metrics, and set-up commands that are safe to repeat.

use crate::helpers::TestApp;

#[sqlx::test(migrations = "../migrations")]
async fn health_and_metrics_answer(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status, 200);
    app.call("watch-lists/list", Some(&app.user), serde_json::json!({}))
        .await;
    let metrics = app.get("/metrics", None).await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains("dossier_http_requests_total{method=\"POST\",route=\"/api/watch-lists/list\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("dossier_http_request_duration_seconds_bucket"));
    assert!(text.contains("dossier_db_pool_connections"));
}

#[sqlx::test(migrations = false)]
async fn migrate_and_create_groups_are_safe_to_run_twice(pool: sqlx::PgPool) {
    server::MIGRATOR.run(&pool).await.unwrap();
    server::MIGRATOR.run(&pool).await.unwrap();
    assert!(server::is_migrated(&pool).await.unwrap());
    engine::auth::create_groups(&pool).await.unwrap();
    engine::auth::create_groups(&pool).await.unwrap();
    let groups: i64 = sqlx::query_scalar("SELECT count(*) FROM groups")
        .fetch_one(&pool)
        .await
        .unwrap();
    let permissions: i64 = sqlx::query_scalar("SELECT count(*) FROM group_permissions")
        .fetch_one(&pool)
        .await
        .unwrap();
    // User 1, Operator 2, Administrator 5 (ingest and video too), Camera 1, Video worker 1.
    assert_eq!((groups, permissions), (5, 10));
}

#[sqlx::test(migrations = false)]
async fn an_unmigrated_database_is_recognised(pool: sqlx::PgPool) {
    assert!(!server::is_migrated(&pool).await.unwrap());
}
