//! What replication refuses, clearly and without changing anything: bad replica requests,
//! a wrong token or another face model, edits to a replica (except deleting while its Leader
//! is down), and the replication screens when they are switched off.

use super::{Pair, *};

#[sqlx::test(migrations = "../migrations")]
async fn bad_replica_requests_are_refused_clearly_and_change_nothing(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let remote = pair.leader.watch_list("Remote").await;
    let busy = pair.sub.watch_list("Busy").await;
    pair.sub.dossier("Already here", &[busy]).await;
    pair.sub.dossier("Also here", &[busy]).await;
    let empty = pair.sub.watch_list("Empty").await;

    let full = pair.subscribe(remote, busy).await;
    assert_eq!(full.status, 409);
    let message = full.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(&format!("watch list {busy}"))
            && message.contains("\"Busy\"")
            && message.contains("holds 2 dossier(s)"),
        "{message}"
    );

    let unknown = pair.subscribe(424242, empty).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.json()["message"]
        .as_str()
        .unwrap()
        .contains("has no watch list 424242"));

    let no_local = pair.subscribe(remote, 999).await;
    assert_eq!(no_local.status, 400);
    assert_eq!(no_local.json()["field"], "slave_dossier_list");

    let unreachable = pair
        .sub_post("/sync/dossier-lists/", json!({"remote_dossier_list": remote, "remote_url": "http://127.0.0.1:9", "slave_dossier_list": empty}))
        .await;
    assert_eq!(unreachable.status, 400);
    assert!(unreachable.json()["message"]
        .as_str()
        .unwrap()
        .contains("cannot be reached"));

    // A server that is not a Leader: the Subscriber itself, with replication routes of its own
    // but this list unknown there… use a plain HTTP server instead.
    let (not_leader, task) =
        serve(axum::Router::new().route("/", axum::routing::get(|| async { "hello" }))).await;
    let answer = pair
        .sub_post("/sync/dossier-lists/", json!({"remote_dossier_list": remote, "remote_url": not_leader, "slave_dossier_list": empty}))
        .await;
    task.abort();
    assert_eq!(answer.status, 400);
    assert!(answer.json()["message"]
        .as_str()
        .unwrap()
        .contains("is not a dossier database Leader"));

    let garbage = pair
        .sub_post("/sync/dossier-lists/", json!({"remote_dossier_list": remote, "remote_url": "not a url", "slave_dossier_list": empty}))
        .await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.json()["field"], "remote_url");
    let malformed = pair
        .sub_post("/sync/dossier-lists/", json!({"remote_url": "http://x"}))
        .await;
    assert_eq!(malformed.status, 400);
    assert!(malformed.json()["message"]
        .as_str()
        .unwrap()
        .contains("missing field"));

    // Only administrators.
    let request = axum::http::Request::post("/sync/dossier-lists/")
        .header("content-type", "application/json")
        .header("authorization", format!("Token {}", pair.sub.operator))
        .body(axum::body::Body::from(json!({"remote_dossier_list": remote, "remote_url": pair.leader_url, "slave_dossier_list": empty}).to_string()))
        .unwrap();
    assert_eq!(pair.sub.send(request).await.status, 403);
    assert_eq!(pair.sub.count("replicas").await, 0);

    // The same list twice.
    assert_eq!(pair.subscribe(remote, empty).await.status, 201);
    let twice = pair.subscribe(remote, empty).await;
    assert_eq!(twice.status, 409);
    assert!(twice.json()["message"]
        .as_str()
        .unwrap()
        .contains("already"));
    assert_eq!(pair.sub.count("replicas").await, 1);
    pair.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_token_or_another_model_is_refused_with_both_names(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let remote = pair.leader.watch_list("Remote").await;
    let empty = pair.sub.watch_list("Empty").await;
    // The same Subscriber database served with another token, then with another model.
    let served_with = |settings: server::settings::Settings| {
        let options = leptos::prelude::LeptosOptions::builder()
            .output_name("dossier")
            .build();
        server::router(crate::helpers::app_state(
            pair.sub.pool.clone(),
            &settings,
            None,
            options,
        ))
    };
    let create = || {
        axum::http::Request::post("/sync/dossier-lists/")
            .header("content-type", "application/json")
            .header("authorization", format!("Token {}", pair.sub.admin))
            .body(axum::body::Body::from(
                json!({"remote_dossier_list": remote, "remote_url": pair.leader_url, "slave_dossier_list": empty}).to_string(),
            ))
            .unwrap()
    };
    let send = |router: axum::Router, request: axum::http::Request<axum::body::Body>| async move {
        use tower::ServiceExt;
        let response = router.oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice::<Value>(&body).unwrap())
    };
    let mut other = settings();
    other.engine.sync.token = engine::sync::SyncToken::new("another-token-0123456789");
    let (status, error) = send(served_with(other.clone()), create()).await;
    assert_eq!(status, 400);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("the Leader rejected the sync token"),
        "{error}"
    );

    other.engine.sync.token = engine::sync::SyncToken::new(crate::helpers::SYNC_TOKEN);
    other.engine.faces.model = "arcface-r100".into();
    let (status, error) = send(served_with(other), create()).await;
    assert_eq!(status, 400);
    let message = error["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("\"face-v1\"") && message.contains("\"arcface-r100\""),
        "{message}"
    );
    assert_eq!(pair.sub.count("replicas").await, 0);

    // The Leader's endpoints answer only the right token, and never echo it.
    let no_token = reqwest_get(&format!("{}/sync/leader/info", pair.leader_url), None).await;
    assert_eq!(no_token.0, 401);
    let wrong = reqwest_get(
        &format!("{}/sync/leader/info", pair.leader_url),
        Some("another-token-0123456789"),
    )
    .await;
    assert_eq!(wrong.0, 401);
    assert!(!wrong.1.contains("another-token"));
    let right = reqwest_get(
        &format!("{}/sync/leader/info", pair.leader_url),
        Some(crate::helpers::SYNC_TOKEN),
    )
    .await;
    assert_eq!(right.0, 200);
    assert!(!right.1.contains(crate::helpers::SYNC_TOKEN));
    pair.finish().await;
}

async fn reqwest_get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[sqlx::test(migrations = "../migrations")]
async fn replicas_are_read_only_except_deleting_while_the_leader_is_down(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let remote = pair.leader.watch_list("Remote").await;
    pair.leader.dossier("Kept", &[remote]).await;
    let local = pair.sub.watch_list("Remote here").await;
    let created = pair.subscribe(remote, local).await;
    let replica = created.json()["id"].as_i64().unwrap();
    pair.run(replica).await.unwrap();
    let dossier: i64 =
        sqlx::query_scalar("SELECT dossier_id FROM dossier_watch_lists WHERE watch_list_id = $1")
            .bind(local)
            .fetch_one(&pair.sub.pool)
            .await
            .unwrap();
    let sub = &pair.sub;
    for (endpoint, body) in [
        (
            "watch-lists/update",
            json!({"id": local, "name": "Mine now"}),
        ),
        ("watch-lists/delete", json!({"id": local})),
        (
            "dossiers/create",
            json!({"name": "Sneaky", "watch_lists": [local]}),
        ),
        (
            "dossiers/update",
            json!({"id": dossier, "name": "Changed", "watch_lists": [local]}),
        ),
        ("dossiers/delete", json!({"id": dossier})),
    ] {
        let answer = sub.call(endpoint, Some(&sub.operator), body).await;
        assert_eq!(answer.status, 403, "{endpoint}");
        let message = answer.json()["message"].as_str().unwrap().to_string();
        assert!(
            message.contains("replica") && message.contains(&pair.leader_url),
            "{endpoint}: {message}"
        );
    }
    assert_eq!(sub.count("dossiers").await, 1);

    // The Leader goes away: deleting becomes possible; the next successful sync restores it.
    pair.leader_task.abort();
    let address = pair.leader_url.trim_start_matches("http://").to_string();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&address).await.is_err() {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    sub.ok("dossiers/delete", &sub.operator, json!({"id": dossier}))
        .await;
    assert_eq!(sub.count("dossiers").await, 0);
    let failed = pair.run(replica).await;
    assert!(
        matches!(failed, Err(SyncError::Unreachable { .. })),
        "{failed:?}"
    );
    let state: (String, Option<String>) =
        sqlx::query_as("SELECT state, last_error FROM replicas WHERE id = $1")
            .bind(replica)
            .fetch_one(&sub.pool)
            .await
            .unwrap();
    assert_eq!(state.0, "failed");
    assert!(state.1.unwrap().contains("cannot be reached"));

    let listener = tokio::net::TcpListener::bind(&address).await.unwrap();
    let router = pair.leader.router.clone();
    let back = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    // The deletion happened locally, unseen by the Leader: the next run (an incremental one)
    // puts the dossier back and says so.
    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert_converged(&pair, remote, local).await;
    let (full, restored): (bool, i64) = sqlx::query_as(
        "SELECT full_resync, restored FROM sync_runs WHERE replica_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(replica)
    .fetch_one(&sub.pool)
    .await
    .unwrap();
    assert_eq!((full, restored), (false, 1));
    back.abort();

    // Cancelling: the list keeps its dossiers and is editable again.
    let request = axum::http::Request::delete(format!("/sync/dossier-lists/{replica}/"))
        .header("authorization", format!("Token {}", sub.admin))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(sub.send(request).await.status, 204);
    sub.ok(
        "watch-lists/update",
        &sub.operator,
        json!({"id": local, "name": "Mine now"}),
    )
    .await;
    let listed = sub
        .ok("dossiers/search", &sub.user, json!({"watch_list": local}))
        .await;
    assert_eq!(listed["dossiers"].as_array().unwrap().len(), 1);
    drop_database(&pair.leader.pool, pair.sub.pool.clone(), &pair.sub_db).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_replication_screens_can_be_switched_off(pool: PgPool) {
    let mut hidden = settings();
    hidden.engine.sync.web_ui = false;
    let app = TestApp::with_settings(pool, hidden).await;
    let me = app.ok("auth/me", &app.admin, json!({})).await;
    assert_eq!(me["replication_screens"], false);
    let overview = app.ok("replication/overview", &app.admin, json!({})).await;
    assert_eq!(overview["web_ui"], false);
    // The API keeps working.
    assert_eq!(
        app.get("/sync/dossier-lists/", Some(&app.admin))
            .await
            .status,
        200
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn administrators_see_the_replication_screens_by_default(pool: PgPool) {
    let app = TestApp::new(pool).await;
    assert_eq!(
        app.ok("auth/me", &app.admin, json!({})).await["replication_screens"],
        true
    );
    assert_eq!(
        app.ok("auth/me", &app.operator, json!({})).await["replication_screens"],
        false
    );
    assert_eq!(
        app.call("replication/overview", Some(&app.operator), json!({}))
            .await
            .status,
        403
    );
}
