//! Hits flow up: a Subscriber's matches on a replicated list reach the Leader exactly once,
//! with the site's name and the face, after the Leader was away; acknowledgements travel both
//! ways; a Leader that lost history is sent again what it lost; a Subscriber restored from a
//! backup never has a new event taken for an old one; a bad batch stores nothing. Faults of
//! the link, the worker and a cancelled replica are in `faults`.

mod faults;
mod kills;

use crate::helpers::{add_photo, drop_database, fresh_database, serve, serve_at, TestApp};
use engine::hits::delivery;
use engine::sync::run::{self, RunOutcome};
use serde_json::{json, Value};

/// A Leader with a list (acknowledge, notify) holding one dossier with a vector, served on a
/// free port; a Subscriber replicating it, synced and indexed.
struct Fleet {
    leader: TestApp,
    /// Where the Subscriber reaches the Leader (the Leader itself, or a proxy before it).
    leader_url: String,
    /// Where the Leader itself listens.
    leader_address: String,
    replica: i64,
    leader_task: tokio::task::JoinHandle<()>,
    sub: TestApp,
    sub_db: String,
    remote: i64,
    dossier: i64,
}

const FACE: [f32; 4] = [1.0, 0.0, 0.0, 0.0];

impl Fleet {
    async fn new(leader_pool: sqlx::PgPool) -> Self {
        Self::reached(leader_pool, |url| async move { url }).await
    }

    /// A fleet whose Subscriber reaches the Leader at the address `reach` makes of the
    /// Leader's own.
    async fn reached<F: std::future::Future<Output = String>>(
        leader_pool: sqlx::PgPool,
        reach: impl FnOnce(String) -> F,
    ) -> Self {
        let (sub_pool, sub_db) = fresh_database(&leader_pool).await;
        let leader = TestApp::new(leader_pool).await;
        let (leader_address, leader_task) = serve(leader.router.clone()).await;
        let leader_url = reach(leader_address.clone()).await;
        let remote = leader
            .ok(
                "watch-lists/create",
                &leader.operator,
                json!({"name": "Wanted", "active": true, "acknowledge": true, "notify": true}),
            )
            .await["id"]
            .as_i64()
            .unwrap();
        let dossier = leader.dossier("Joe", &[remote]).await;
        add_photo(&leader, dossier, 1, Some("[1, 0, 0, 0]")).await;
        let sub = TestApp::new(sub_pool).await;
        let local = sub.watch_list("Wanted (replica)").await;
        let replica = sub.subscribed(&leader_url, remote, local).await;
        assert!(matches!(
            run::run(&sub.state.replication, replica).await,
            Ok(RunOutcome::Done { .. })
        ));
        sub.state.monitoring.index.refresh().await.unwrap();
        Self {
            leader,
            leader_url,
            leader_address,
            replica,
            leader_task,
            sub,
            sub_db,
            remote,
            dossier,
        }
    }

    /// A camera at the Subscriber sees the wanted face; returns the event's id there.
    async fn sighting(&self, camera: &str) -> i64 {
        let answer = self
            .sub
            .post(
                "/api/events/faces",
                Some(&self.sub.camera),
                json!({"camera": camera, "model": "face-v1", "vectors": [FACE]}),
            )
            .await;
        assert_eq!(
            answer.status,
            201,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let event = &answer.json()["events"][0];
        assert!(event["matched"].is_object(), "{event}");
        event["id"].as_i64().unwrap()
    }

    /// One delivery to the Leader now, as the worker makes it; whether more is pending.
    async fn deliver(&self) -> bool {
        let client = reqwest::Client::new();
        delivery::send(&self.sub.state.hits, &client, &self.leader_url)
            .await
            .unwrap()
    }

    /// The Leader stops answering.
    async fn leader_away(&mut self) {
        self.leader_task.abort();
        let _ = (&mut self.leader_task).await;
    }

    /// The Leader answers again, where it was.
    async fn leader_back(&mut self) {
        let (_, task) = serve_at(
            self.leader_address.trim_start_matches("http://"),
            self.leader.router.clone(),
        )
        .await;
        self.leader_task = task;
    }

    async fn backlog(&self) -> Value {
        let backlog = self
            .sub
            .ok("sites/backlog", &self.sub.admin, json!({}))
            .await;
        backlog
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["leader_url"] == self.leader_url.as_str())
            .cloned()
            .unwrap()
    }

    async fn leader_events(&self) -> Vec<Value> {
        let page = self
            .leader
            .ok("events/list", &self.leader.user, json!({}))
            .await;
        page["events"].as_array().unwrap().clone()
    }

    async fn done(self) {
        self.leader_task.abort();
        drop_database(&self.leader.pool, self.sub.pool.clone(), &self.sub_db).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn matches_made_while_the_leader_is_away_reach_it_once_and_acknowledgements_travel_both_ways(
    leader_pool: sqlx::PgPool,
) {
    let mut fleet = Fleet::new(leader_pool).await;
    // The Leader away: the camera's matches wait at the site.
    fleet.leader_away().await;
    let first = fleet.sighting("site-gate").await;
    let second = fleet.sighting("site-yard").await;
    fleet.sighting("site-yard").await;
    assert!(!fleet.deliver().await);
    let waiting = fleet.backlog().await;
    assert_eq!(waiting["pending"], 3, "{waiting}");
    assert!(
        waiting["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{waiting}"
    );
    // Back: every match arrives once, with the site's name, the face's camera and the
    // Leader's own dossier and list.
    fleet.leader_back().await;
    fleet
        .leader
        .ok(
            "webhooks/create",
            &fleet.leader.admin,
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    fleet.deliver().await;
    let events = fleet.leader_events().await;
    assert_eq!(events.len(), 3, "{events:?} {}", fleet.backlog().await);
    for e in &events {
        assert_eq!(
            e["site"]["name"],
            fleet.sub.state.settings.site_name.as_str()
        );
        assert_eq!(e["matched"]["dossier_id"], fleet.dossier);
        assert_eq!(e["matched"]["watch_list_id"], fleet.remote);
        assert_eq!(e["needs_ack"], true);
    }
    let cameras: Vec<&str> = events
        .iter()
        .map(|e| e["camera"].as_str().unwrap())
        .collect();
    assert_eq!(cameras.iter().filter(|c| **c == "site-yard").count(), 2);
    // The faces travel with the matches: the Leader searches its fleet's events by face, here
    // from one of the site's events, within that site.
    assert!(events.iter().all(|e| e["searchable"] == true), "{events:?}");
    let site = events[0]["site"]["id"].to_string();
    let found = fleet
        .leader
        .ok(
            "events/similar",
            &fleet.leader.user,
            json!({"event": events[0]["id"], "site": site}),
        )
        .await;
    assert_eq!(found["appearances"].as_array().unwrap().len(), 2, "{found}");
    assert!(found["appearances"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["event"]["site"]["id"] == events[0]["site"]["id"]));
    assert_eq!(fleet.backlog().await["pending"], 0);
    // The Leader's webhooks treat them as its own (the list has `notify`): one delivery each.
    assert_eq!(fleet.leader.count("webhook_deliveries").await, 3);
    // Sent again (a lost answer), nothing doubles.
    sqlx::query("UPDATE hit_outbox SET sent_version = 0")
        .execute(&fleet.sub.pool)
        .await
        .unwrap();
    fleet.deliver().await;
    assert_eq!(fleet.leader_events().await.len(), 3);
    assert_eq!(fleet.leader.count("webhook_deliveries").await, 3);

    // Acknowledged on the Leader: the site's copy says who and when.
    let on_leader = events.iter().find(|e| e["camera"] == "site-gate").unwrap()["id"]
        .as_i64()
        .unwrap();
    fleet
        .leader
        .ok(
            "events/acknowledge",
            &fleet.leader.operator,
            json!({"id": on_leader}),
        )
        .await;
    fleet.deliver().await;
    let sub_page = fleet
        .sub
        .ok("events/list", &fleet.sub.user, json!({}))
        .await;
    let sub_event = |id: i64| {
        sub_page["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(sub_event(first)["acknowledged"]["by"], "operator");
    assert_eq!(sub_event(second)["acknowledged"], Value::Null);
    // Acknowledged at the site: the Leader's copy follows.
    fleet
        .sub
        .ok(
            "events/acknowledge",
            &fleet.sub.operator,
            json!({"id": second}),
        )
        .await;
    fleet.deliver().await;
    let acknowledged = fleet
        .leader_events()
        .await
        .iter()
        .filter(|e| e["acknowledged"]["by"] == "operator")
        .count();
    assert_eq!(acknowledged, 2);
    // Nothing bounces back and forth: both sides are quiet now.
    let rows: Vec<(i64, i64, i64)> =
        sqlx::query_as("SELECT event_id, version, sent_version FROM hit_outbox ORDER BY event_id")
            .fetch_all(&fleet.sub.pool)
            .await
            .unwrap();
    assert_eq!(fleet.backlog().await["pending"], 0, "{rows:?}");

    // The Sites page lists the Subscriber, its list, a zero backlog.
    let sites = fleet
        .leader
        .ok("sites/list", &fleet.leader.admin, json!({}))
        .await;
    let site = &sites[0];
    assert_eq!(site["name"], fleet.sub.state.settings.site_name.as_str());
    assert_eq!(site["backlog"], 0);
    assert_eq!(site["events"], 3);
    assert_eq!(site["quiet"], false);
    assert_eq!(site["lists"][0]["list"], fleet.remote);
    assert_eq!(site["lists"][0]["name"], "Wanted");
    // Filtered by site, and "here" shows none of them.
    let here = fleet
        .leader
        .ok("events/list", &fleet.leader.user, json!({"site": "here"}))
        .await;
    assert_eq!(here["events"].as_array().unwrap().len(), 0);
    let theirs = fleet
        .leader
        .ok(
            "events/list",
            &fleet.leader.user,
            json!({"site": site["id"].to_string()}),
        )
        .await;
    assert_eq!(theirs["events"].as_array().unwrap().len(), 3);

    // Verdicts travel up with the events: the Leader's list calibrates from the site's.
    let judged = fleet
        .sub
        .call(
            "events/judge",
            Some(&fleet.sub.operator),
            json!({"id": first, "verdict": "rejected"}),
        )
        .await;
    assert_eq!(
        judged.status,
        200,
        "{}",
        String::from_utf8_lossy(&judged.body)
    );
    while fleet.deliver().await {}
    let calibration = fleet
        .leader
        .ok(
            "watch-lists/calibration",
            &fleet.leader.user,
            json!({"id": fleet.remote}),
        )
        .await;
    assert_eq!(
        calibration["rejected"].as_array().unwrap().len(),
        1,
        "{calibration}"
    );
    let judged_there = fleet
        .leader_events()
        .await
        .into_iter()
        .filter(|e| e["verdict"]["verdict"] == "rejected")
        .count();
    assert_eq!(judged_there, 1);
    fleet.done().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_leader_that_lost_history_is_sent_again_what_it_lost(leader_pool: sqlx::PgPool) {
    let fleet = Fleet::new(leader_pool).await;
    fleet.sighting("gate").await;
    fleet.sighting("gate").await;
    fleet.deliver().await;
    assert_eq!(fleet.leader_events().await.len(), 2);
    // As if restored from a dump taken before the deliveries: the events are gone and the
    // Leader's storage is another (its epoch changes at the next answer).
    sqlx::query("DELETE FROM events")
        .execute(&fleet.leader.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE sync_feed_state SET fingerprint = 'restored-elsewhere'")
        .execute(&fleet.leader.pool)
        .await
        .unwrap();
    fleet.sighting("gate").await;
    // The answer to this batch shows the new epoch: everything is owed again.
    fleet.deliver().await;
    while fleet.deliver().await {}
    fleet.deliver().await;
    assert_eq!(fleet.leader_events().await.len(), 3);
    assert_eq!(fleet.backlog().await["pending"], 0);
    fleet.done().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_subscriber_restored_from_a_backup_never_has_a_new_event_taken_for_an_old_one(
    leader_pool: sqlx::PgPool,
) {
    let fleet = Fleet::new(leader_pool).await;
    let old = fleet.sighting("gate").await;
    fleet.deliver().await;
    // As if restored from a dump taken before that event: the id is handed out again, in
    // another epoch of the Subscriber's history.
    sqlx::query("DELETE FROM events")
        .execute(&fleet.sub.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM hit_outbox")
        .execute(&fleet.sub.pool)
        .await
        .unwrap();
    sqlx::query("SELECT setval('events_id_seq', $1, false)")
        .bind(old)
        .execute(&fleet.sub.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE sync_feed_state SET fingerprint = 'restored-elsewhere'")
        .execute(&fleet.sub.pool)
        .await
        .unwrap();
    let new = fleet.sighting("yard").await;
    assert_eq!(new, old);
    fleet.deliver().await;
    let events = fleet.leader_events().await;
    assert_eq!(events.len(), 2, "{events:?}");
    fleet.done().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bad_batch_is_refused_whole_and_says_where(leader_pool: sqlx::PgPool) {
    let fleet = Fleet::new(leader_pool).await;
    let now = chrono::Utc::now().to_rfc3339();
    let event = |id: i64, confidence: f64| {
        json!({"epoch": "e1", "id": id, "captured_at": now, "received_at": now,
               "camera": "gate", "dossier_id": fleet.dossier, "dossier_name": "Joe",
               "watch_list_id": fleet.remote, "confidence": confidence})
    };
    let batch = |events: Vec<Value>| {
        json!({"site": {"installation": "site-x", "name": "X", "address": "http://x",
                        "face_model": "face-v1", "version": "1", "lists": [], "backlog": 0},
               "events": events})
    };
    let post = |body: Value, token: &'static str| {
        let url = format!("{}/sync/leader/events", fleet.leader_url);
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let token = crate::helpers::SYNC_TOKEN;
    let refused = post(batch(vec![event(1, 0.9), event(2, 1.5)]), token).await;
    let status = refused.status();
    let error: Value = refused.json().await.unwrap();
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field"], "events[1].confidence", "{error}");
    assert_eq!(fleet.leader.count("events").await, 0);
    assert_eq!(fleet.leader.count("sites").await, 0);
    let wrong_token = post(batch(vec![event(1, 0.9)]), "not-the-sync-token-at-all").await;
    assert_eq!(wrong_token.status(), 401);
    let garbage = reqwest::Client::new()
        .post(format!("{}/sync/leader/events", fleet.leader_url))
        .bearer_auth(token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let mut other_leader = batch(vec![event(1, 0.9)]);
    other_leader["leader_installation"] = json!("someone-else");
    assert_eq!(post(other_leader, token).await.status(), 409);
    assert_eq!(fleet.leader.count("events").await, 0);
    // The good batch, twice: stored once.
    for _ in 0..2 {
        let taken = post(batch(vec![event(1, 0.9)]), token).await;
        assert_eq!(taken.status(), 200);
    }
    assert_eq!(fleet.leader.count("events").await, 1);
    fleet.done().await;
}
