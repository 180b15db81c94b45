//! The audit log: every write made by a person, in the browser or with curl, is recorded with
//! who made it, from where, and what changed; logins and failed logins too. An Administrator
//! reads it, filtered and paged.

use crate::helpers::TestApp;
use axum::body::Body;
use axum::http::{header, Request};
use serde_json::{json, Value};

/// A server function called with a token from a given address.
fn call(endpoint: &str, token: &str, body: Value) -> Request<Body> {
    Request::post(format!("/api/{endpoint}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .header(header::AUTHORIZATION, format!("Token {token}"))
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn entries(app: &TestApp, filter: Value) -> Vec<Value> {
    let page = app.ok("audit/entries", &app.admin, filter).await;
    page["entries"].as_array().unwrap().clone()
}

#[sqlx::test(migrations = "../migrations")]
async fn every_write_is_recorded_with_its_user_address_and_changes(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let from = "203.0.113.5";
    let op = app.operator.clone();
    let list = app
        .send_from(
            from,
            call("watch-lists/create", &op, json!({"name": "Wanted"})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let other = app
        .send_from(
            from,
            call("watch-lists/create", &op, json!({"name": "Cleared"})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let body = json!({"name": "Ann Example", "meta": {"case": "A-17"}, "watch_lists": [list]});
    let dossier = app
        .send_from(from, call("dossiers/create", &op, body))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    // Moved from the wanted list to the cleared one, and renamed.
    let moved = json!({"id": dossier, "name": "Ann Exemplary", "meta": {"case": "A-17"}, "watch_lists": [other]});
    assert_eq!(
        app.send_from(from, call("dossiers/update", &op, moved))
            .await
            .status,
        200
    );

    // Who removed this person from the wanted list, when, from where.
    let removal = entries(
        &app,
        json!({"subject_kind": "membership", "subject_id": dossier.to_string(), "action": "delete"}),
    )
    .await;
    assert_eq!(removal.len(), 1, "{removal:?}");
    assert_eq!(removal[0]["actor"], "operator");
    assert_eq!(removal[0]["address"], from);
    assert_eq!(removal[0]["changes"]["watch_list_id"]["before"], list);
    assert!(removal[0]["at"].is_string());

    let dossier_history = entries(
        &app,
        json!({"subject_kind": "dossier", "subject_id": dossier.to_string()}),
    )
    .await;
    let actions: Vec<&str> = dossier_history
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["update", "create"], "newest first");
    let rename = &dossier_history[0]["changes"];
    assert_eq!(
        rename["name"],
        json!({"before": "Ann Example", "after": "Ann Exemplary"})
    );
    assert!(
        rename.get("meta").is_none(),
        "unchanged fields are left out: {rename}"
    );
    assert!(rename.get("modified_at").is_none());

    // Users and tokens, by the administrator; secrets never appear.
    let admin = app.admin.clone();
    let user = app
        .send_from(
            from,
            call(
                "users/create",
                &admin,
                json!({"username": "guard", "password": "password123", "group": "User"}),
            ),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    app.send_from(from, call("users/issue-token", &admin, json!({"id": user})))
        .await;
    let user_entries = entries(&app, json!({"actor": "admin", "subject_kind": "user"})).await;
    assert_eq!(user_entries[0]["changes"]["username"]["after"], "guard");
    let everything = serde_json::to_string(&entries(&app, json!({"limit": 500})).await).unwrap();
    assert!(!everything.contains("argon2") && !everything.contains("token_sha256"));
    assert_eq!(
        entries(&app, json!({"subject_kind": "api_token", "actor": "admin"}))
            .await
            .len(),
        1
    );

    // Deleting the list and the dossier with it: each is recorded.
    app.send_from(from, call("watch-lists/delete", &op, json!({"id": other})))
        .await;
    let gone = entries(&app, json!({"subject_kind": "dossier", "action": "delete"})).await;
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0]["changes"]["name"]["before"], "Ann Exemplary");
    assert_eq!(gone[0]["actor"], "operator");

    // A refused write leaves no entry.
    let count = app.count("audit_log").await;
    let refused = call("watch-lists/create", &op, json!({"name": ""}));
    assert_eq!(app.send_from(from, refused).await.status, 400);
    assert_eq!(app.count("audit_log").await, count);
}

#[sqlx::test(migrations = "../migrations")]
async fn logins_and_failed_logins_are_recorded_with_their_address(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    for password in ["wrong-password", "password123"] {
        let request = Request::post("/api/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(
                json!({"username": "viewer", "password": password}).to_string(),
            ))
            .unwrap();
        app.send_from("198.51.100.23", request).await;
    }
    let failed = entries(&app, json!({"action": "login_failed"})).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["address"], "198.51.100.23");
    assert!(failed[0]["summary"].as_str().unwrap().contains("viewer"));
    let login = entries(&app, json!({"action": "login"})).await;
    assert_eq!(login[0]["actor"], "viewer");
    assert_eq!(login[0]["address"], "198.51.100.23");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_log_pages_newest_first_and_is_for_administrators(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    for i in 0..7 {
        app.watch_list(&format!("List {i}")).await;
    }
    let filter = json!({"subject_kind": "watch_list", "limit": 3});
    let first = app.ok("audit/entries", &app.admin, filter.clone()).await;
    let mut seen: Vec<i64> = Vec::new();
    let mut page = first;
    loop {
        seen.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        let Some(before) = page["next_before"].as_i64() else {
            break;
        };
        let mut next = filter.clone();
        next["before"] = json!(before);
        page = app.ok("audit/entries", &app.admin, next).await;
    }
    assert_eq!(seen.len(), 7);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
    let refused = app
        .call("audit/entries", Some(&app.operator), json!({}))
        .await;
    assert_eq!(refused.status, 403);
    let bad = app
        .call(
            "audit/entries",
            Some(&app.admin),
            json!({"subject_kind": "planet"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    // The page renders for an administrator, with the entries.
    let html = app
        .get("/audit?subject_kind=watch_list", Some(&app.admin))
        .await;
    assert_eq!(html.status, 200);
    assert!(String::from_utf8_lossy(&html.body).contains("List 6"));
}

#[sqlx::test(migrations = "../migrations")]
async fn entries_older_than_the_retention_are_purged(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    app.watch_list("Old").await;
    app.watch_list("New").await;
    sqlx::query(
        "UPDATE audit_log SET at = now() - interval '800 days'
         WHERE changes -> 'name' ->> 'after' = 'Old'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.state.tidy().await;
    let left = entries(&app, json!({"subject_kind": "watch_list"})).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["changes"]["name"]["after"], "New");
}
