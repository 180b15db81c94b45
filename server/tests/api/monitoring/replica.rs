//! What the replicas are for: a Subscriber matches its cameras against the lists it replicates,
//! with the Leader's settings, even while the Leader is away; a list deactivated on the Leader
//! stops matching at the Subscriber after the next sync.

use super::{events, indexed, post_photo};
use crate::helpers::{drop_database, fresh_database, serve, test_photo, TestApp};
use engine::sync::run::{self, RunOutcome};
use serde_json::{json, Value};

#[sqlx::test(migrations = "../migrations")]
async fn a_subscriber_matches_against_its_replica_with_the_leaders_settings(
    leader_pool: sqlx::PgPool,
) {
    let (sub_pool, sub_db) = fresh_database(&leader_pool).await;
    let leader = TestApp::with_faces(leader_pool).await;
    let (leader_url, leader_task) = serve(leader.router.clone()).await;
    let sub = TestApp::with_faces(sub_pool).await;

    let remote = leader
        .ok(
            "watch-lists/create",
            &leader.operator,
            json!({"name": "Wanted", "active": true, "acknowledge": true, "color": "#d0021b"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let dossier = leader.dossier("Barack Obama", &[remote]).await;
    let photo = crate::faces::upload(&leader, dossier, &test_photo("obama.jpg")).await;
    assert_eq!(photo.status, 200);
    let local = sub.watch_list("Wanted (replica)").await;
    let replica = sub.subscribed(&leader_url, remote, local).await;
    let sync = || async {
        assert!(matches!(
            run::run(&sub.state.replication, replica).await,
            Ok(RunOutcome::Done { .. })
        ));
        indexed(&sub).await;
    };
    sync().await;

    // The Leader away: the Subscriber still matches, with the Leader's colour and acknowledge.
    leader_task.abort();
    let seen = post_photo(&sub, "site-gate", &test_photo("obama3.jpg")).await;
    assert_eq!(seen.status, 201, "{}", String::from_utf8_lossy(&seen.body));
    let page = events(&sub, json!({})).await;
    let event = &page["events"][0];
    assert_eq!(event["matched"]["dossier_name"], "Barack Obama");
    assert_eq!(event["matched"]["watch_list_id"], local);
    assert_eq!(event["matched"]["color"], "#d0021b");
    assert_eq!(event["needs_ack"], true);
    let stranger = post_photo(&sub, "site-gate", &test_photo("biden.jpg"))
        .await
        .json();
    assert_eq!(stranger["events"][0]["matched"], Value::Null);

    // Deactivated on the Leader, synced: no more matches.
    let (leader_url, leader_task) = crate::helpers::serve_at(
        leader_url.trim_start_matches("http://"),
        leader.router.clone(),
    )
    .await;
    leader
        .ok(
            "watch-lists/update",
            &leader.operator,
            json!({"id": remote, "name": "Wanted", "active": false, "acknowledge": true, "color": "#d0021b"}),
        )
        .await;
    sync().await;
    let after = post_photo(&sub, "site-gate", &test_photo("obama3.jpg"))
        .await
        .json();
    assert_eq!(after["events"][0]["matched"], Value::Null, "{after}");

    let _ = leader_url;
    leader_task.abort();
    drop_database(&leader.pool, sub.pool.clone(), &sub_db).await;
}
