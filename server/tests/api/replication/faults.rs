//! Faults on the Subscriber's side and around it, tried as an operator would: a dossier deleted
//! here while the Leader was down, the Leader's list emptied, list settings changed on the
//! Leader, a Subscriber pointed at itself or at a list that comes from itself. Each ends with
//! the replica equal to the Leader, or held with a clear message, and the run history saying
//! what happened. (The Leader's own history going back is in `leader_history`.)

use super::{add_photo, assert_converged, Pair};
use crate::helpers::{serve, serve_at, stop, TestApp};
use engine::sync::run::RunOutcome;
use serde_json::{json, Value};
use sqlx::PgPool;

/// The latest run of a replica: (full resync, outcome, why, removals, restored).
pub(super) async fn latest_run(pool: &PgPool, replica: i64) -> (bool, String, String, i64, i64) {
    sqlx::query_as(
        "SELECT full_resync, outcome, coalesce(reason, ''), removals, restored FROM sync_runs
         WHERE replica_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(replica)
    .fetch_one(pool)
    .await
    .unwrap()
}

pub(super) async fn show(sub: &TestApp, replica: i64) -> Value {
    let answer = sub
        .get(&format!("/sync/dossier-lists/{replica}/"), Some(&sub.admin))
        .await;
    assert_eq!(answer.status, 200);
    answer.json()
}

/// An Administrator's answer to a held replica through the API: "confirm" or "reject".
pub(super) async fn decide(sub: &TestApp, replica: i64, answer: &str) -> crate::helpers::Answer {
    let path = format!("/sync/dossier-lists/{replica}/{answer}/");
    sub.post(&path, Some(&sub.admin), json!({})).await
}

pub(super) async fn members(pool: &PgPool, list: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM dossier_watch_lists WHERE watch_list_id = $1")
        .bind(list)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// `n` dossiers in a list, written as the application would (the triggers keep revisions).
async fn many_dossiers(pool: &PgPool, list: i64, n: i64) {
    sqlx::query(
        "WITH new AS (INSERT INTO dossiers (name) SELECT 'Person ' || i FROM generate_series(1, $2) i
                      RETURNING id)
         INSERT INTO dossier_watch_lists (watch_list_id, dossier_id) SELECT $1, id FROM new",
    )
    .bind(list)
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dossier_deleted_here_while_the_leader_was_down_comes_back_with_its_photos(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let remote = pair.leader.watch_list("Wanted").await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let id = pair.leader.dossier(&format!("P{i}"), &[remote]).await;
        add_photo(&pair.leader, id, i, Some("[0.5, 1, 2, 4]")).await;
        ids.push(id);
    }
    let local = pair.sub.watch_list("Here").await;
    let replica = pair.subscribe(remote, local).await.json()["id"]
        .as_i64()
        .unwrap();
    pair.run(replica).await.unwrap();

    let leader_url = pair.leader_url.clone();
    let Pair {
        leader,
        leader_task,
        sub,
        sub_db,
        ..
    } = pair;
    stop(&leader_url, leader_task).await;
    let gone: Vec<i64> = sqlx::query_scalar(
        "SELECT dossier_id FROM remote_dossiers WHERE remote_id = ANY($1) ORDER BY remote_id",
    )
    .bind(&ids[..2])
    .fetch_all(&sub.pool)
    .await
    .unwrap();
    for id in &gone {
        sub.ok("dossiers/delete", &sub.operator, json!({"id": id}))
            .await;
    }
    assert_eq!(members(&sub.pool, local).await, 2);
    assert_eq!(sub.count("photos").await, 2);

    // The Leader is back; one ordinary run restores both, with their photos and vectors.
    let (_, task) = serve_at(
        leader_url.trim_start_matches("http://"),
        leader.router.clone(),
    )
    .await;
    let pair = Pair {
        leader,
        leader_url,
        leader_task: task,
        sub,
        sub_db,
    };
    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert_converged(&pair, remote, local).await;
    let (full, _, _, _, restored) = latest_run(&pair.sub.pool, replica).await;
    assert!(!full, "restoring does not wait for a full resync");
    assert_eq!(restored, 2);
    assert_eq!(pair.sub.count("replica_restores").await, 0);
    // A later run has nothing more to restore.
    pair.run(replica).await.unwrap();
    assert_eq!(latest_run(&pair.sub.pool, replica).await.4, 0);
    pair.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_leader_list_emptied_by_mistake_holds_the_replica_until_confirmed(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let remote = pair.leader.watch_list("Wanted").await;
    many_dossiers(&pair.leader.pool, remote, 300).await;
    let local = pair.sub.watch_list("Here").await;
    let replica = pair.subscribe(remote, local).await.json()["id"]
        .as_i64()
        .unwrap();
    pair.run(replica).await.unwrap();
    assert_eq!(members(&pair.sub.pool, local).await, 300);

    // Under the limit: 100 of 300 go without asking.
    sqlx::query("DELETE FROM dossiers WHERE id IN (SELECT id FROM dossiers ORDER BY id LIMIT 100)")
        .execute(&pair.leader.pool)
        .await
        .unwrap();
    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert_converged(&pair, remote, local).await;

    // The rest of the list is emptied: held before anything changes.
    sqlx::query("DELETE FROM dossier_watch_lists WHERE watch_list_id = $1")
        .bind(remote)
        .execute(&pair.leader.pool)
        .await
        .unwrap();
    pair.leader.dossier("Newcomer", &[remote]).await;
    assert_eq!(pair.run(replica).await.unwrap(), RunOutcome::Held);
    assert_eq!(members(&pair.sub.pool, local).await, 200);
    let shown = show(&pair.sub, replica).await;
    assert_eq!(shown["state"], "held");
    assert_eq!(shown["hold"]["kind"], "mass_removal");
    let message = shown["hold"]["message"].as_str().unwrap();
    assert!(message.contains("would remove 200 of the 200"), "{message}");

    // Rejected: the replica stays as it is, and the next run asks again.
    let rejected = decide(&pair.sub, replica, "reject").await;
    assert_eq!(rejected.status, 200);
    assert_eq!(rejected.json()["state"], "idle");
    let (_, _, why, _, _) = latest_run(&pair.sub.pool, replica).await;
    assert!(why.contains("rejected by an Administrator"), "{why}");
    assert_eq!(pair.run(replica).await.unwrap(), RunOutcome::Held);
    assert_eq!(members(&pair.sub.pool, local).await, 200);

    // Confirmed (through the page's server function): the run goes ahead.
    pair.sub
        .ok(
            "replication/confirm",
            &pair.sub.admin.clone(),
            json!({"id": replica}),
        )
        .await;
    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert_converged(&pair, remote, local).await;
    assert_eq!(members(&pair.sub.pool, local).await, 1);
    pair.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn list_settings_follow_the_leader_and_the_name_stays_local(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let (remote, local, replica) = pair.replicate("Wanted").await;
    pair.leader
        .ok(
            "watch-lists/update",
            &pair.leader.operator,
            json!({"id": remote, "name": "Wanted", "comment": "armed", "color": "#ff0000",
                   "active": false, "acknowledge": true, "notify": true, "confidence_threshold": "0.8"}),
        )
        .await;
    pair.sub
        .ok(
            "watch-lists/rename",
            &pair.sub.operator,
            json!({"id": local, "name": "Wanted at gate 3"}),
        )
        .await;
    pair.run(replica).await.unwrap();
    let list = pair
        .sub
        .ok("watch-lists/get", &pair.sub.user, json!({"id": local}))
        .await;
    assert_eq!(list["name"], "Wanted at gate 3");
    assert_eq!(list["comment"], "armed");
    assert_eq!(list["color"], "#ff0000");
    assert_eq!(list["active"], false);
    assert_eq!(list["acknowledge"], true);
    assert_eq!(list["notify"], true);
    assert!((list["confidence_threshold"].as_f64().unwrap() - 0.8).abs() < 1e-6);
    // The settings themselves are the Leader's: changing them here is refused.
    let refused = pair
        .sub
        .call(
            "watch-lists/update",
            Some(&pair.sub.operator),
            json!({"id": local, "name": "Wanted at gate 3", "active": true}),
        )
        .await;
    assert_eq!(refused.status, 403);
    pair.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_subscriber_refuses_itself_and_loops(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let sub = &pair.sub;
    let (own_url, own_task) = serve(sub.router.clone()).await;
    let mine = sub.watch_list("Mine").await;
    let empty = sub.watch_list("Empty").await;
    let refused = sub.subscribe(&own_url, mine, empty).await;
    assert_eq!(
        refused.status,
        400,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    let error = refused.json();
    assert_eq!(error["field"], "remote_url");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("this installation itself"));

    // The Leader replicates a list of this Subscriber; taking it back would make a loop.
    let leader = &pair.leader;
    let theirs = leader.watch_list("From the Subscriber").await;
    let created = leader.subscribe(&own_url, mine, theirs).await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let offered = sub
        .post(
            "/api/replication/leader-lists",
            Some(&sub.admin),
            json!({"remote_url": pair.leader_url}),
        )
        .await;
    let upstream = offered
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == theirs)
        .unwrap()["upstream"]
        .clone();
    assert_eq!(upstream.as_array().unwrap().len(), 1);
    let looped = pair.subscribe(theirs, empty).await;
    assert_eq!(
        looped.status,
        400,
        "{}",
        String::from_utf8_lossy(&looped.body)
    );
    let error = looped.json();
    assert_eq!(error["field"], "remote_dossier_list");
    assert!(error["message"].as_str().unwrap().contains("loop"));
    assert_eq!(sub.count("replicas").await, 0);
    own_task.abort();
    pair.finish().await;
}
