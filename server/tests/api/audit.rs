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

#[sqlx::test(migrations = "../migrations")]
async fn entries_name_their_subjects_leave_bookkeeping_out_and_cover_webhooks(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("Night shift").await;
    let dossier = app.dossier("Jane Roe", &[list]).await;
    let before = app.count("audit_log").await;
    crate::helpers::add_photo(&app, dossier, 3, None).await;
    // An upload is one entry, the photo's, named after its dossier; the dossier's replication
    // revision it bumped is not an "update dossier" entry.
    let upload = entries(&app, json!({"limit": 10})).await;
    let new: Vec<&Value> = upload
        .iter()
        .take((app.count("audit_log").await - before) as usize)
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0]["subject_kind"], "photo");
    assert_eq!(new[0]["subject_name"], "Jane Roe");
    assert!(new[0]["changes"].get("image_sha256").is_none());

    let created = entries(&app, json!({"subject_kind": "dossier", "action": "create"})).await;
    assert_eq!(created[0]["subject_name"], "Jane Roe");
    assert!(created[0]["changes"].get("revision").is_none());
    assert!(created[0]["changes"].get("name_folded").is_none());
    // Deleted, it keeps the name it had.
    app.ok("dossiers/delete", &app.operator, json!({"id": dossier}))
        .await;
    let gone = entries(&app, json!({"subject_kind": "dossier", "action": "delete"})).await;
    assert_eq!(gone[0]["subject_name"], "Jane Roe");
    let membership = entries(&app, json!({"subject_kind": "membership"})).await;
    assert_eq!(
        membership.last().unwrap()["subject_name"],
        "Jane Roe in Night shift"
    );

    // A webhook sends faces to an address: its creation, its secret being shown, and its
    // deletion are recorded, the secret itself never.
    let hook = "http://127.0.0.1:9/receiver";
    let (id, secret): (i64, String) = serde_json::from_value(
        app.ok("webhooks/create", &app.admin, json!({"url": hook}))
            .await,
    )
    .unwrap();
    app.ok("webhooks/delete", &app.admin, json!({"id": id}))
        .await;
    let hooks = entries(&app, json!({"subject_kind": "webhook"})).await;
    let actions: Vec<&str> = hooks
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "show_secret", "create"], "newest first");
    assert!(hooks
        .iter()
        .all(|e| e["subject_name"] == hook && e["actor"] == "admin"));
    assert_eq!(hooks[2]["changes"]["min_confidence"]["after"], 0.0);
    let everything = serde_json::to_string(&entries(&app, json!({"limit": 500})).await).unwrap();
    assert!(
        !everything.contains(&secret),
        "the secret is never recorded"
    );
}
