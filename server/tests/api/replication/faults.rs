//! Faults an operator meets, tried as an operator would: the Leader restored from an older
//! dump, its database re-created empty, its revision counter moved back, a dossier deleted here
//! while the Leader was down, the Leader's list emptied, a Subscriber pointed at itself or at a
//! list that comes from itself. Each ends with the replica equal to the Leader, or held with a
//! clear message, and the run history saying what happened.

use super::{add_photo, assert_converged, assert_same, replicate_into, Pair};
use crate::helpers::{drop_database, fresh_database, serve, serve_at, stop, TestApp};
use domain::sync::run::{self, RunOutcome};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::process::{Command, Stdio};

/// The latest run of a replica: (full resync, outcome, why, removals, restored).
async fn latest_run(pool: &PgPool, replica: i64) -> (bool, String, String, i64, i64) {
    sqlx::query_as(
        "SELECT full_resync, outcome, coalesce(reason, ''), removals, restored FROM sync_runs
         WHERE replica_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(replica)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn show(sub: &TestApp, replica: i64) -> Value {
    let answer = sub
        .get(&format!("/sync/dossier-lists/{replica}/"), Some(&sub.admin))
        .await;
    assert_eq!(answer.status, 200);
    answer.json()
}

/// An Administrator's answer to a held replica through the API: "confirm" or "reject".
async fn decide(sub: &TestApp, replica: i64, answer: &str) -> crate::helpers::Answer {
    let path = format!("/sync/dossier-lists/{replica}/{answer}/");
    sub.post(&path, Some(&sub.admin), json!({})).await
}

async fn members(pool: &PgPool, list: i64) -> i64 {
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

fn database_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

/// The whole database as `pg_dump` writes it (plain SQL), as an operator's nightly backup.
fn dump(url: &str) -> Vec<u8> {
    let out = Command::new("pg_dump")
        .args(["--no-owner", url])
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Restores a plain dump with `psql`, stopping at the first error.
fn restore(url: &str, dump: &[u8]) {
    use std::io::Write;
    let mut psql = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("psql runs");
    psql.stdin.take().unwrap().write_all(dump).unwrap();
    assert!(psql.wait().unwrap().success(), "the dump restores");
}

/// Drops a database (closing its connections) and creates it again, empty.
async fn recreate(admin: &PgPool, name: &str) {
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin)
        .await
        .unwrap();
}

/// A Leader on a database of its own (so that it can be dropped and restored), served on a
/// port of its own, with a Subscriber beside it.
struct Site {
    admin: PgPool,
    leader: TestApp,
    leader_db: String,
    leader_url: String,
    leader_task: tokio::task::JoinHandle<()>,
    sub: TestApp,
    sub_db: String,
}

impl Site {
    async fn new(admin: PgPool) -> Self {
        let (leader_pool, leader_db) = fresh_database(&admin).await;
        let (sub_pool, sub_db) = fresh_database(&admin).await;
        let leader = TestApp::new(leader_pool).await;
        let (leader_url, leader_task) = serve(leader.router.clone()).await;
        Self {
            admin,
            leader,
            leader_db,
            leader_url,
            leader_task,
            sub: TestApp::new(sub_pool).await,
            sub_db,
        }
    }

    /// Subscribes an empty local list to the Leader's list and runs once.
    async fn replicate(&self, remote: i64) -> (i64, i64) {
        let local = self.sub.watch_list("Replica").await;
        (
            local,
            replicate_into(&self.sub, &self.leader_url, remote, local).await,
        )
    }

    async fn run(&self, replica: i64) -> Option<RunOutcome> {
        run::run(&self.sub.state, replica).await.ok()
    }

    /// The Leader stops, its database is replaced by `make`'s doing, and it starts again at
    /// the same address over the new database.
    async fn replace_leader_database(&mut self, make: impl FnOnce(&str)) {
        let url = self.leader_url.clone();
        stop(
            &url,
            std::mem::replace(&mut self.leader_task, tokio::spawn(async {})),
        )
        .await;
        self.leader.pool.close().await;
        recreate(&self.admin, database_name(&self.leader_db)).await;
        make(&self.leader_db);
        let pool = PgPool::connect(&self.leader_db).await.unwrap();
        let restored: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
            .fetch_one(&pool)
            .await
            .unwrap();
        // A restored database has the users (and their tokens) of the dump; a new one has none.
        self.leader = if restored {
            TestApp::attach(pool, &self.leader)
        } else {
            TestApp::new(pool).await
        };
        let (_, task) = serve_at(
            url.trim_start_matches("http://"),
            self.leader.router.clone(),
        )
        .await;
        self.leader_task = task;
    }

    async fn finish(self) {
        self.leader_task.abort();
        drop_database(&self.admin, self.sub.pool.clone(), &self.sub_db).await;
        drop_database(&self.admin, self.leader.pool.clone(), &self.leader_db).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_leader_restored_from_an_older_dump_is_followed_exactly(pool: PgPool) {
    let mut site = Site::new(pool).await;
    let leader = &site.leader;
    let remote = leader.watch_list("Wanted").await;
    let kept = leader.dossier("Kept", &[remote]).await;
    add_photo(leader, kept, 1, Some("[1, 2, 3, 4]")).await;
    let doomed = leader.dossier("Deleted after the backup", &[remote]).await;
    let (local, replica) = site.replicate(remote).await;
    let backup = dump(&site.leader_db);

    // After the backup: a dossier added, another deleted; the site follows.
    let lost = leader.dossier("Added after the backup", &[remote]).await;
    add_photo(leader, lost, 2, None).await;
    leader
        .ok("dossiers/delete", &leader.operator, json!({"id": doomed}))
        .await;
    site.run(replica).await.unwrap();
    assert_same(&site.leader.pool, remote, &site.sub.pool, local).await;

    // The Leader comes back from the backup and is edited again: its new dossier takes the id
    // the lost one had, and its revision counter is where the backup left it.
    site.replace_leader_database(|url| restore(url, &backup))
        .await;
    let leader = &site.leader;
    let newer = leader.dossier("Added after the restore", &[remote]).await;
    assert_eq!(
        newer, lost,
        "the restored Leader hands out the lost dossier's id again"
    );
    leader
        .ok(
            "dossiers/update",
            &leader.operator,
            json!({"id": kept, "name": "Kept, renamed", "watch_lists": [remote]}),
        )
        .await;

    assert!(matches!(
        site.run(replica).await,
        Some(RunOutcome::Done { .. })
    ));
    assert_same(&site.leader.pool, remote, &site.sub.pool, local).await;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT d.name FROM dossiers d JOIN dossier_watch_lists m ON m.dossier_id = d.id
         WHERE m.watch_list_id = $1 ORDER BY d.name",
    )
    .bind(local)
    .fetch_all(&site.sub.pool)
    .await
    .unwrap();
    assert_eq!(
        names,
        [
            "Added after the restore",
            "Deleted after the backup",
            "Kept, renamed"
        ]
    );
    let (full, outcome, why, _, _) = latest_run(&site.sub.pool, replica).await;
    assert!(
        full,
        "a cursor of the old history means nothing: a clean full resync"
    );
    assert_eq!(outcome, "success");
    assert!(why.contains("history went back"), "{why}");
    // The next run is incremental again, in the new history.
    site.leader.dossier("Later", &[remote]).await;
    site.run(replica).await.unwrap();
    assert!(!latest_run(&site.sub.pool, replica).await.0);
    assert_same(&site.leader.pool, remote, &site.sub.pool, local).await;
    site.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_revision_counter_moved_back_leads_to_a_full_resync(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let (remote, local, replica) = pair.replicate("Wanted").await;
    for i in 0..5 {
        pair.leader.dossier(&format!("P{i}"), &[remote]).await;
    }
    pair.run(replica).await.unwrap();
    // Someone resets the Leader's counter, and edits follow.
    sqlx::query("SELECT setval('sync_revision', 1)")
        .execute(&pair.leader.pool)
        .await
        .unwrap();
    pair.leader.dossier("After the reset", &[remote]).await;
    assert!(matches!(
        pair.run(replica).await,
        Ok(RunOutcome::Done { .. })
    ));
    assert_converged(&pair, remote, local).await;
    let (full, _, why, _, _) = latest_run(&pair.sub.pool, replica).await;
    assert!(full);
    assert!(why.contains("history went back"), "{why}");
    pair.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_recreated_leader_database_is_another_installation_until_an_administrator_confirms(
    pool: PgPool,
) {
    let mut site = Site::new(pool).await;
    let remote = site.leader.watch_list("Wanted").await;
    for name in ["A", "B", "C"] {
        site.leader.dossier(name, &[remote]).await;
    }
    let (local, replica) = site.replicate(remote).await;
    let before = show(&site.sub, replica).await["leader_installation"].clone();
    assert!(before.is_string());

    // The Leader's database is dropped and made again from scratch, with a list of its own.
    site.replace_leader_database(|url| {
        let out = Command::new(env!("CARGO_BIN_EXE_dossier"))
            .arg("migrate")
            .env("DATABASE_URL", url)
            .output()
            .expect("dossier migrate runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    })
    .await;
    let again = site.leader.watch_list("Wanted again").await;
    assert_eq!(again, remote, "the new database hands out the same list id");
    site.leader.dossier("Z", &[again]).await;

    // Sync now: held, nothing touched, and the page says why.
    assert_eq!(site.run(replica).await, Some(RunOutcome::Held));
    assert_eq!(members(&site.sub.pool, local).await, 3);
    let shown = show(&site.sub, replica).await;
    assert_eq!(shown["state"], "held");
    assert_eq!(shown["hold"]["kind"], "leader_changed");
    let message = shown["hold"]["message"].as_str().unwrap();
    assert!(
        message.contains("another installation") && message.contains("Nothing was changed"),
        "{message}"
    );
    assert_eq!(latest_run(&site.sub.pool, replica).await.1, "held");
    // Held replicas wait for a decision: the schedule does not run them.
    assert!(shown["next_run_at"].is_null());

    let confirmed = decide(&site.sub, replica, "confirm").await;
    assert_eq!(
        confirmed.status,
        202,
        "{}",
        String::from_utf8_lossy(&confirmed.body)
    );
    assert_eq!(confirmed.json()["state"], "idle");
    assert!(matches!(
        site.run(replica).await,
        Some(RunOutcome::Done { .. })
    ));
    assert_same(&site.leader.pool, again, &site.sub.pool, local).await;
    let (full, _, why, removals, _) = latest_run(&site.sub.pool, replica).await;
    assert!(full);
    assert!(why.contains("accepted installation"), "{why}");
    // Z took A's id on the new Leader, so A's local dossier became Z; B and C went.
    assert_eq!(removals, 2);
    // Nothing left to confirm.
    let again = decide(&site.sub, replica, "confirm").await;
    assert_eq!(again.status, 409);
    site.finish().await;
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
