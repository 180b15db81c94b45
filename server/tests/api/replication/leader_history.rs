//! The Leader's history going back, tried as an operator would: the Leader restored from an
//! older dump and edited again, its revision counter moved back, its database re-created
//! empty. Each ends with the replica equal to the Leader after one run, or held until an
//! Administrator accepts the new Leader, and the run history saying why.

use super::faults::{decide, latest_run, members, show};
use super::{add_photo, assert_converged, assert_same, replicate_into, Pair};
use crate::helpers::{drop_database, fresh_database, serve, serve_at, stop, TestApp};
use engine::sync::run::{self, RunOutcome};
use serde_json::json;
use sqlx::PgPool;
use std::process::{Command, Stdio};

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
        run::run(&self.sub.state.replication, replica).await.ok()
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
