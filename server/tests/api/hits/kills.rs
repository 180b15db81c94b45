//! Hits between two real `dossier` processes, each killed with -9 at random moments while a
//! camera posts matches at the Subscriber: afterwards the Leader holds every match the
//! Subscriber stored, each once.

use crate::helpers::{add_photo, drop_database, fresh_database, TestApp};
use crate::process::{free_address, wait_for, Server};
use serde_json::json;
use std::time::Duration;

/// A small generator of the kills' moments, seeded by the clock (the seed is printed, so a
/// failing order can be replayed by hand).
struct Moments(u64);

impl Moments {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn matched_at_site(sub: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE dossier_id IS NOT NULL")
        .fetch_one(sub)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn either_side_killed_during_delivery_loses_and_doubles_nothing(pool: sqlx::PgPool) {
    let (leader_pool, leader_db) = fresh_database(&pool).await;
    let (sub_pool, sub_db) = fresh_database(&pool).await;
    let leader = TestApp::new(leader_pool.clone()).await;
    let sub = TestApp::new(sub_pool.clone()).await;
    let remote = leader
        .ok(
            "watch-lists/create",
            &leader.operator,
            json!({"name": "Wanted", "active": true, "acknowledge": true}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let dossier = leader.dossier("Joe", &[remote]).await;
    add_photo(&leader, dossier, 1, Some("[1, 0, 0, 0]")).await;
    let local = sub.watch_list("Wanted (replica)").await;

    let (leader_address, sub_address) = (free_address(), free_address());
    let start_leader = || Server::start(&leader_db, &leader_address, &[]);
    let start_sub = || Server::start(&sub_db, &sub_address, &[]);
    let mut leader_server = start_leader();
    let mut sub_server = start_sub();
    leader_server.ready().await;
    sub_server.ready().await;
    let leader_url = format!("http://{leader_address}");
    sub_server
        .subscribe(&sub.admin, &leader_url, remote, local)
        .await;
    let http = reqwest::Client::new();
    let post = |base: String| {
        let http = http.clone();
        let token = sub.camera.clone();
        async move {
            http.post(format!("{base}/api/events/faces"))
                .header("Authorization", format!("Token {token}"))
                .json(&json!({"camera": "gate", "model": "face-v1", "vectors": [[1.0, 0.0, 0.0, 0.0]]}))
                .timeout(Duration::from_secs(5))
                .send()
                .await
        }
    };
    // Synced and indexed: a post matches.
    wait_for("the replica to match", Duration::from_secs(30), || {
        let post = post(sub_server.base.clone());
        async move {
            match post.await {
                Ok(answer) if answer.status() == 201 => answer
                    .json::<serde_json::Value>()
                    .await
                    .is_ok_and(|v| v["events"][0]["matched"].is_object()),
                _ => false,
            }
        }
    })
    .await;

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("kill moments seeded with {seed}");
    let mut moments = Moments(seed);
    for round in 0..6 {
        for _ in 0..8 {
            let _ = post(sub_server.base.clone()).await;
            tokio::time::sleep(Duration::from_millis(moments.below(120))).await;
        }
        // Each side in turn, at a moment of its own: often in the middle of a delivery.
        tokio::time::sleep(Duration::from_millis(moments.below(400))).await;
        if round % 2 == 0 {
            leader_server.kill9();
            tokio::time::sleep(Duration::from_millis(moments.below(500))).await;
            let _ = post(sub_server.base.clone()).await;
            leader_server = start_leader();
            leader_server.ready().await;
        } else {
            sub_server.kill9();
            sub_server = start_sub();
            sub_server.ready().await;
        }
    }
    let stored = matched_at_site(&sub_pool).await;
    assert!(stored >= 40, "only {stored} matches stored");
    wait_for("every match at the Leader", Duration::from_secs(60), || {
        let pool = leader_pool.clone();
        async move {
            let held: i64 =
                sqlx::query_scalar("SELECT count(*) FROM events WHERE site_id IS NOT NULL")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            held >= stored
        }
    })
    .await;
    let (held, distinct): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT (origin_epoch, origin_id)) FROM events
          WHERE site_id IS NOT NULL",
    )
    .fetch_one(&leader_pool)
    .await
    .unwrap();
    assert_eq!((held, distinct), (stored, stored));
    drop(sub_server);
    drop(leader_server);
    drop_database(&pool, sub.pool.clone(), &sub_db).await;
    drop_database(&pool, leader.pool.clone(), &leader_db).await;
}
