//! Replication between two real instances, each with its own database, over real HTTP on free
//! ports: the seed's API, convergence, increments, read-only replicas, the bad cases.

mod common;
use app::sync::subscriber::{self, RunOutcome, SyncError};
use common::{drop_database, fresh_database, serve, settings, TestApp};
use serde_json::{json, Value};
use sqlx::PgPool;

struct Pair {
    leader: TestApp,
    leader_url: String,
    leader_task: tokio::task::JoinHandle<()>,
    sub: TestApp,
    sub_db: String,
}

impl Pair {
    async fn new(leader_pool: PgPool) -> Self {
        let (sub_pool, sub_db) = fresh_database(&leader_pool).await;
        let leader = TestApp::new(leader_pool).await;
        let (leader_url, leader_task) = serve(leader.router.clone()).await;
        let sub = TestApp::new(sub_pool).await;
        Self {
            leader,
            leader_url,
            leader_task,
            sub,
            sub_db,
        }
    }

    async fn finish(self) {
        self.leader_task.abort();
        drop_database(&self.leader.pool, self.sub.pool.clone(), &self.sub_db).await;
    }

    /// `POST /sync/dossier-lists/` on the Subscriber, as an administrator.
    async fn subscribe(&self, remote: i64, local: i64) -> common::Answer {
        self.sub_post(
            "/sync/dossier-lists/",
            json!({"remote_dossier_list": remote, "remote_url": self.leader_url, "slave_dossier_list": local}),
        )
        .await
    }

    async fn sub_post(&self, path: &str, body: Value) -> common::Answer {
        let request = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Token {}", self.sub.admin))
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        self.sub.send(request).await
    }

    async fn run(&self, replica: i64) -> Result<RunOutcome, SyncError> {
        subscriber::run(&self.sub.state, replica).await
    }

    /// Creates a list on each side, subscribes and runs once; returns (leader list, local list, replica).
    async fn replicate(&self, name: &str) -> (i64, i64, i64) {
        let remote = self.leader.watch_list(name).await;
        let local = self.sub.watch_list(&format!("{name} (replica)")).await;
        let created = self.subscribe(remote, local).await;
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        let replica = created.json()["id"].as_i64().unwrap();
        assert!(matches!(
            self.run(replica).await,
            Ok(RunOutcome::Done { .. })
        ));
        (remote, local, replica)
    }
}

/// Every dossier of a list with its fields, photos (hash, model, vector) and image bytes, keyed
/// by the Leader's id, as JSON: the two sides must produce the same value.
async fn snapshot(pool: &PgPool, list: i64, key: &str, join: &str) -> Value {
    let sql = format!(
        "SELECT coalesce(jsonb_agg(x ORDER BY x.k), '[]') FROM (
            SELECT {key} AS k, d.name, d.comment, d.active, d.meta,
              (SELECT coalesce(jsonb_agg(jsonb_build_array(encode(p.image_sha256, 'hex'), p.face_model,
                        p.face_vector::text, md5(i.data), md5(i.thumbnail)) ORDER BY p.id), '[]')
               FROM photos p JOIN images i ON i.sha256 = p.image_sha256 WHERE p.dossier_id = d.id) AS photos
            FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id {join}
            WHERE m.watch_list_id = $1) AS x"
    );
    sqlx::query_scalar(&sql)
        .bind(list)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn assert_converged(pair: &Pair, remote: i64, local: i64) {
    let leader = snapshot(&pair.leader.pool, remote, "d.id", "").await;
    let replica = snapshot(
        &pair.sub.pool,
        local,
        "r.remote_id",
        "JOIN remote_dossiers r ON r.dossier_id = d.id",
    )
    .await;
    assert_eq!(leader, replica, "the replica differs from the Leader");
}

async fn add_photo(app: &TestApp, dossier: i64, seed: u32, vector: Option<&str>) {
    let png = server::demo::portrait(seed);
    let id = dossier.to_string();
    let mut fields: Vec<(&str, &[u8])> = vec![("dossier_id", id.as_bytes()), ("image", &png)];
    if let Some(v) = vector {
        fields.push(("vector", v.as_bytes()));
        fields.push(("model", b"face-v1"));
    }
    let answer = app.upload(&app.operator, &fields).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
}

async fn last_run(pool: &PgPool, replica: i64) -> (bool, i64, i64, i64) {
    sqlx::query_as(
        "SELECT full_resync, dossiers, removals, photos FROM sync_runs
         WHERE replica_id = $1 AND outcome = 'success' ORDER BY id DESC LIMIT 1",
    )
    .bind(replica)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_replica_converges_then_follows_edits_deletions_and_removals(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let remote = pair.leader.watch_list("Wanted").await;
    let other = pair.leader.watch_list("Other").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let id = pair.leader.dossier(&format!("Person {i}"), &[remote]).await;
        add_photo(
            &pair.leader,
            id,
            i % 4,
            (i % 2 == 0).then_some("[0.1, -2.5, 3.25, 1e-7]"),
        )
        .await;
        ids.push(id);
    }
    let local = pair.sub.watch_list("Wanted here").await;

    // The seed's request, with the alias of the last key.
    let created = pair
        .sub_post(
            "/sync/dossier-lists/",
            json!({"remote_dossier_list": remote, "remote_url": pair.leader_url, "subscriber_dossier_list": local}),
        )
        .await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let replica = created.json();
    assert_eq!(replica["remote_dossier_list"], remote);
    assert_eq!(replica["slave_dossier_list"], local);
    assert_eq!(replica["remote_url"], pair.leader_url.as_str());
    assert_eq!(replica["state"], "idle");
    assert!(replica["next_run_at"].is_string());
    let replica = replica["id"].as_i64().unwrap();

    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert_converged(&pair, remote, local).await;
    let (full, dossiers, _, photos) = last_run(&pair.sub.pool, replica).await;
    assert!(full);
    assert_eq!(dossiers, 30);
    assert_eq!(photos, 4, "four distinct images, each fetched once");

    // Edits, a deletion, a removal from the list, a move to another list, a new photo.
    let leader = &pair.leader;
    leader
        .ok("dossiers/update", &leader.operator, json!({"id": ids[0], "name": "Renamed", "active": false, "meta": {"k": 1}, "watch_lists": [remote]}))
        .await;
    leader
        .ok("dossiers/delete", &leader.operator, json!({"id": ids[1]}))
        .await;
    leader
        .ok(
            "dossiers/update",
            &leader.operator,
            json!({"id": ids[2], "name": "Person 2", "active": true, "watch_lists": [other]}),
        )
        .await;
    add_photo(leader, ids[3], 9, Some("[1, 2, 3, 4]")).await;
    let fresh = leader.dossier("Newcomer", &[remote, other]).await;
    add_photo(leader, fresh, 0, None).await;

    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert_converged(&pair, remote, local).await;
    let (full, dossiers, removals, photos) = last_run(&pair.sub.pool, replica).await;
    assert!(!full, "the second run is incremental");
    assert_eq!(
        dossiers, 3,
        "only the renamed, re-photographed and new dossiers"
    );
    assert_eq!(removals, 2, "the deleted and the moved dossier");
    assert_eq!(photos, 1, "only the new image is fetched");
    assert_eq!(pair.sub.count("dossiers").await, 29);

    // Nothing changed: a run moves nothing.
    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    let (_, dossiers, removals, photos) = last_run(&pair.sub.pool, replica).await;
    assert_eq!((dossiers, removals, photos), (0, 0, 0));

    // GET one and the list show the state and the last success.
    let shown = pair
        .sub
        .get(
            &format!("/sync/dossier-lists/{replica}/"),
            Some(&pair.sub.admin),
        )
        .await;
    assert_eq!(shown.status, 200);
    assert!(shown.json()["last_success_at"].is_string());
    let all = pair
        .sub
        .get("/sync/dossier-lists/", Some(&pair.sub.admin))
        .await;
    assert_eq!(all.json().as_array().unwrap().len(), 1);
    pair.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dossier_in_two_replicated_lists_is_one_local_dossier(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let a = pair.leader.watch_list("A").await;
    let b = pair.leader.watch_list("B").await;
    pair.leader.dossier("In both", &[a, b]).await;
    let la = pair.sub.watch_list("A here").await;
    let lb = pair.sub.watch_list("B here").await;
    for (remote, local) in [(a, la), (b, lb)] {
        let created = pair.subscribe(remote, local).await;
        assert_eq!(created.status, 201);
        pair.run(created.json()["id"].as_i64().unwrap())
            .await
            .unwrap();
    }
    assert_eq!(pair.sub.count("dossiers").await, 1);
    let lists: Vec<i64> =
        sqlx::query_scalar("SELECT watch_list_id FROM dossier_watch_lists ORDER BY 1")
            .fetch_all(&pair.sub.pool)
            .await
            .unwrap();
    assert_eq!(lists, vec![la, lb]);
    pair.finish().await;
}

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
    let served_with = |settings: app::state::AppSettings| {
        let options = leptos::prelude::LeptosOptions::builder()
            .output_name("dossier")
            .build();
        server::router(server::app_state(pair.sub.pool.clone(), settings, options))
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
    other.sync.token = app::sync::SyncToken::new("another-token-0123456789");
    let (status, error) = send(served_with(other.clone()), create()).await;
    assert_eq!(status, 400);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("the Leader rejected the sync token"),
        "{error}"
    );

    other.sync.token = app::sync::SyncToken::new(common::SYNC_TOKEN);
    other.face_model = "arcface-r100".into();
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
        Some(common::SYNC_TOKEN),
    )
    .await;
    assert_eq!(right.0, 200);
    assert!(!right.1.contains(common::SYNC_TOKEN));
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
    // The deletion happened locally, unseen by the Leader: only a full resync restores it.
    sqlx::query("UPDATE replicas SET cursor = 0 WHERE id = $1")
        .bind(replica)
        .execute(&sub.pool)
        .await
        .unwrap();
    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert_converged(&pair, remote, local).await;
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
async fn a_cursor_the_leader_cannot_serve_leads_to_a_clean_full_resync(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let remote = pair.leader.watch_list("Remote").await;
    let a = pair.leader.dossier("A", &[remote]).await;
    pair.leader.dossier("B", &[remote]).await;
    let local = pair.sub.watch_list("Here").await;
    let replica = pair.subscribe(remote, local).await.json()["id"]
        .as_i64()
        .unwrap();
    pair.run(replica).await.unwrap();

    pair.leader
        .ok("dossiers/delete", &pair.leader.operator, json!({"id": a}))
        .await;
    // The Leader prunes its tombstones past the Subscriber's cursor (as if they were old).
    sqlx::query("UPDATE sync_tombstones SET created_at = now() - interval '31 days'")
        .execute(&pair.leader.pool)
        .await
        .unwrap();
    app::sync::leader::prune_tombstones(&pair.leader.pool, 30)
        .await
        .unwrap();
    assert_eq!(pair.leader.count("sync_tombstones").await, 0);
    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert_converged(&pair, remote, local).await;
    let (full, _, removals, _) = last_run(&pair.sub.pool, replica).await;
    assert!(full);
    assert_eq!(
        removals, 1,
        "the full resync swept the dossier it did not see"
    );
    pair.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn divergence_is_detected_by_digest_and_repaired(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let (remote, local, replica) = pair.replicate("Remote").await;
    pair.leader.dossier("A", &[remote]).await;
    pair.run(replica).await.unwrap();
    // Someone edits the replica behind the server's back, and a day passes (verification
    // after an incremental run is daily).
    sqlx::query("UPDATE dossiers SET name = 'tampered'")
        .execute(&pair.sub.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE replicas SET verified_at = now() - interval '25 hours'")
        .execute(&pair.sub.pool)
        .await
        .unwrap();
    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Diverged { .. })
    ));
    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM replicas WHERE id = $1")
        .bind(replica)
        .fetch_one(&pair.sub.pool)
        .await
        .unwrap();
    assert!(error.unwrap().contains("divergence"));
    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert_converged(&pair, remote, local).await;
    pair.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn two_runners_never_run_the_same_replica_at_once(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let remote = pair.leader.watch_list("Remote").await;
    for i in 0..50 {
        pair.leader.dossier(&format!("P{i}"), &[remote]).await;
    }
    let local = pair.sub.watch_list("Here").await;
    let replica = pair.subscribe(remote, local).await.json()["id"]
        .as_i64()
        .unwrap();
    // Hold the claim as another process would.
    let mut other = pair.sub.pool.acquire().await.unwrap().detach();
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(7415, $1::int)")
        .bind(replica as i32)
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert!(held);
    assert_eq!(pair.run(replica).await.unwrap(), RunOutcome::Busy);
    drop(other);
    let (a, b) = tokio::join!(pair.run(replica), pair.run(replica));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert!(
        outcomes.contains(&RunOutcome::Busy)
            || outcomes
                .iter()
                .all(|o| matches!(o, RunOutcome::Done { .. }))
    );
    assert_converged(&pair, remote, local).await;
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_runs WHERE replica_id = $1 AND outcome = 'success' AND full_resync")
        .bind(replica)
        .fetch_one(&pair.sub.pool)
        .await
        .unwrap();
    assert_eq!(runs, 1, "the full sync ran once");
    pair.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_replication_screens_can_be_switched_off(pool: PgPool) {
    let mut hidden = settings();
    hidden.sync_web_ui = false;
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
