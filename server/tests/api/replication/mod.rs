//! Replication between two real instances, each with its own database, over real HTTP on free
//! ports: convergence, increments, resyncs, divergence, single runner. The refusals (bad
//! requests, read-only replicas, switched-off screens) are in `refusals`; what an operator sees
//! of replication (the Replication page, the audit log's entry per run) in `operators`.

mod faults;
mod leader_history;
mod operators;
mod refusals;

use crate::helpers::{add_photo, drop_database, fresh_database, serve, settings, TestApp};
use engine::sync::error::SyncError;
use engine::sync::run::{self, RunOutcome};
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
    async fn subscribe(&self, remote: i64, local: i64) -> crate::helpers::Answer {
        self.sub.subscribe(&self.leader_url, remote, local).await
    }

    async fn sub_post(&self, path: &str, body: Value) -> crate::helpers::Answer {
        let request = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Token {}", self.sub.admin))
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        self.sub.send(request).await
    }

    async fn run(&self, replica: i64) -> Result<RunOutcome, SyncError> {
        run::run(&self.sub.state.replication, replica).await
    }

    /// Creates a list on each side, subscribes and runs once; returns (leader list, local list, replica).
    async fn replicate(&self, name: &str) -> (i64, i64, i64) {
        let remote = self.leader.watch_list(name).await;
        let local = self.sub.watch_list(&format!("{name} (replica)")).await;
        let replica = replicate_into(&self.sub, &self.leader_url, remote, local).await;
        (remote, local, replica)
    }
}

/// Subscribes the local list `local` to the Leader's `remote` and runs it once, successfully;
/// returns the replica.
async fn replicate_into(sub: &TestApp, leader_url: &str, remote: i64, local: i64) -> i64 {
    let replica = sub.subscribed(leader_url, remote, local).await;
    assert!(matches!(
        run::run(&sub.state.replication, replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    replica
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
    assert_same(&pair.leader.pool, remote, &pair.sub.pool, local).await;
}

/// The Leader's list `remote` and the Subscriber's replica `local` hold the same dossiers.
async fn assert_same(leader: &PgPool, remote: i64, sub: &PgPool, local: i64) {
    let leader = snapshot(leader, remote, "d.id", "").await;
    let replica = snapshot(
        sub,
        local,
        "r.remote_id",
        "JOIN remote_dossiers r ON r.dossier_id = d.id",
    )
    .await;
    assert_eq!(leader, replica, "the replica differs from the Leader");
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
    engine::sync::feed::prune_tombstones(&pair.leader.pool, 30)
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
    let repaired = pair.run(replica).await;
    assert!(
        matches!(repaired, Ok(RunOutcome::Done { .. })),
        "{repaired:?}"
    );
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
    let held: bool = sqlx::query_scalar(engine::locks::TRY_CLAIM_REPLICA)
        .bind(replica)
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
async fn a_run_claim_covers_the_whole_replica_id(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let (_, _, first) = pair.replicate("First").await;
    // The next replica's id equals the first one's in its low 32 bits: a claim keyed by a
    // truncated id would make one replica's run block the other's.
    let next = first + (1i64 << 32);
    sqlx::query(&format!(
        "ALTER TABLE replicas ALTER COLUMN id RESTART WITH {next}"
    ))
    .execute(&pair.sub.pool)
    .await
    .unwrap();
    let (_, _, second) = pair.replicate("Second").await;
    assert_eq!(second, next);

    let mut other = pair.sub.pool.acquire().await.unwrap().detach();
    let held: bool = sqlx::query_scalar(engine::locks::TRY_CLAIM_REPLICA)
        .bind(first)
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert!(held);
    assert_eq!(pair.run(first).await.unwrap(), RunOutcome::Busy);
    assert!(matches!(
        pair.run(second).await.unwrap(),
        RunOutcome::Done { .. }
    ));
    drop(other);
    pair.finish().await;
}
