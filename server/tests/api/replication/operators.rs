//! Replication as an operator sees it: the audit log's one entry per run, and the Replication
//! page (the Leader's list by name, the schedule in words, "sync now" held while a run goes,
//! each replica's own history).

use super::{replicate_into, Pair};
use crate::helpers::TestApp;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = "../migrations")]
async fn a_run_is_recorded_in_the_audit_log_as_the_replication(pool: PgPool) {
    let pair = Pair::new(pool).await;
    let remote = pair.leader.watch_list("Wanted").await;
    for name in ["A", "B", "C"] {
        pair.leader.dossier(name, &[remote]).await;
    }
    let local = pair.sub.watch_list("Wanted (replica)").await;
    let before: i64 = pair.sub.count("audit_log").await;
    replicate_into(&pair.sub, &pair.leader_url, remote, local).await;
    let log = pair
        .sub
        .ok("audit/entries", &pair.sub.admin, json!({"action": "sync"}))
        .await;
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(
        entries[0]["actor"],
        format!(
            "replication of list {remote} from Leader {}",
            pair.leader_url
        )
    );
    assert_eq!(entries[0]["subject_id"], local.to_string());
    let summary = entries[0]["summary"].as_str().unwrap();
    assert!(summary.contains("3 dossier(s) written"), "{summary}");
    // One entry for the run (the replica's creation is the other), none per replicated row.
    assert_eq!(pair.sub.count("audit_log").await, before + 2);
    pair.finish().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_replication_page_names_the_leaders_list_and_holds_sync_now_while_a_run_goes(
    pool: PgPool,
) {
    let pair = Pair::new(pool).await;
    let (_, _, replica) = pair.replicate("Most wanted").await;
    let sync_now = |html: &str| {
        let button = html.split("Sync now").next().unwrap();
        button[button.rfind("<button").unwrap()..].to_string()
    };
    let idle = replication_page(&pair.sub).await;
    assert!(
        idle.contains("“Most wanted” on"),
        "the Leader's list by name"
    );
    assert!(idle.contains("every day at 03:00 (UTC)"));
    assert!(!sync_now(&idle).contains("disabled"), "{}", sync_now(&idle));
    sqlx::query("UPDATE replicas SET state = 'running' WHERE id = $1")
        .bind(replica)
        .execute(&pair.sub.pool)
        .await
        .unwrap();
    let running = replication_page(&pair.sub).await;
    assert!(
        sync_now(&running).contains("disabled"),
        "{}",
        sync_now(&running)
    );

    // Each replica's history is its own, newest first.
    let (remote, _, second) = pair.replicate("Second").await;
    pair.leader.dossier("Late", &[remote]).await;
    pair.run(second).await.unwrap();
    let overview = pair
        .sub
        .ok("replication/overview", &pair.sub.admin, json!({}))
        .await;
    let runs = |id: i64| -> Vec<i64> {
        overview["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["replica"]["id"] == id)
            .unwrap()["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run["dossiers"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(runs(replica), [0]);
    assert_eq!(runs(second), [1, 0]);
    pair.finish().await;
}

async fn replication_page(sub: &TestApp) -> String {
    let html = sub.get("/replication", Some(&sub.admin)).await;
    String::from_utf8_lossy(&html.body).to_string()
}
