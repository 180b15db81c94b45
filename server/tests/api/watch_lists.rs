//! Watch lists through the API: create, read, edit, delete, and every kind of bad input.

use crate::helpers::TestApp;
use serde_json::json;

#[sqlx::test(migrations = "../migrations")]
async fn an_operator_creates_edits_and_deletes_a_watch_list(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let created = app
        .ok(
            "watch-lists/create",
            &app.operator,
            json!({"name": "  Wanted  ", "comment": "armed", "color": "#D62728", "active": true,
                   "notify": true, "confidence_threshold": "0.75"}),
        )
        .await;
    assert_eq!(created["name"], "Wanted");
    assert_eq!(created["color"], "#d62728");
    assert_eq!(created["notify"], true);
    assert_eq!(created["acknowledge"], false);
    assert_eq!(created["confidence_threshold"], 0.75);
    let id = created["id"].as_i64().unwrap();

    let edited = app
        .ok(
            "watch-lists/update",
            &app.operator,
            json!({"id": id, "name": "Most wanted", "color": "#000000", "active": false}),
        )
        .await;
    assert_eq!(edited["name"], "Most wanted");
    assert_eq!(edited["active"], false);
    assert!(edited["confidence_threshold"].is_null());

    let listed = app.ok("watch-lists/list", &app.user, json!({})).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "Most wanted");
    let labels = app.ok("watch-lists/labels", &app.user, json!({})).await;
    assert_eq!(
        labels,
        json!([{"id": id, "name": "Most wanted", "color": "#000000", "replica_of": null}])
    );

    app.ok("watch-lists/delete", &app.operator, json!({"id": id}))
        .await;
    assert_eq!(app.count("watch_lists").await, 0);
    let gone = app
        .call("watch-lists/get", Some(&app.user), json!({"id": id}))
        .await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.json()["message"],
        format!("watch list {id} does not exist")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_watch_lists_are_refused_naming_the_field_and_nothing_is_written(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    app.watch_list("Taken").await;
    let long = "x".repeat(300);
    let cases = [
        (json!({"name": ""}), 400, "name"),
        (json!({"name": "   "}), 400, "name"),
        (json!({"name": long}), 400, "name"),
        (json!({"name": "A", "color": "red"}), 400, "color"),
        (json!({"name": "A", "color": "#12345"}), 400, "color"),
        (
            json!({"name": "A", "confidence_threshold": 1.5}),
            400,
            "confidence_threshold",
        ),
        (
            json!({"name": "A", "confidence_threshold": "high"}),
            400,
            "confidence_threshold",
        ),
        (
            json!({"name": "A", "comment": "c".repeat(2049)}),
            400,
            "comment",
        ),
        (json!({"name": "Taken"}), 409, "name"),
    ];
    for (body, status, field) in cases {
        let answer = app
            .call("watch-lists/create", Some(&app.operator), body.clone())
            .await;
        assert_eq!(answer.status, status, "{body}");
        let error = answer.json();
        assert_eq!(error["field"], field, "{body}: {error}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(app.count("watch_lists").await, 1);

    let too_long = app
        .call(
            "watch-lists/create",
            Some(&app.operator),
            json!({"name": "x".repeat(300)}),
        )
        .await;
    assert_eq!(
        too_long.json()["message"],
        "must be at most 256 characters, got 300"
    );

    // An edit that breaks a rule leaves the list as it was.
    let id = app.watch_list("Keep me").await;
    let answer = app
        .call(
            "watch-lists/update",
            Some(&app.operator),
            json!({"id": id, "name": "Taken"}),
        )
        .await;
    assert_eq!(answer.status, 409);
    let kept = app
        .ok("watch-lists/get", &app.user, json!({"id": id}))
        .await;
    assert_eq!(kept["name"], "Keep me");

    let unknown = app
        .call(
            "watch-lists/update",
            Some(&app.operator),
            json!({"id": 999999, "name": "X"}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let malformed = app
        .call(
            "watch-lists/get",
            Some(&app.operator),
            json!({"id": "seven"}),
        )
        .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["error"], "bad_request");
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_json_is_a_clear_400(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let request = axum::http::Request::post("/api/watch-lists/create")
        .header("content-type", "application/json")
        .header("authorization", format!("Token {}", app.operator))
        .body(axum::body::Body::from("{\"name\": "))
        .unwrap();
    let answer = app.send(request).await;
    assert_eq!(answer.status, 400);
    assert!(answer.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("malformed JSON body"));
    assert_eq!(app.count("watch_lists").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_a_list_deletes_only_the_dossiers_that_belong_to_no_other(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let a = app.watch_list("A").await;
    let b = app.watch_list("B").await;
    let only_a = app.dossier("Only in A", &[a]).await;
    let both = app.dossier("In A and B", &[a, b]).await;

    let exclusive = app
        .ok(
            "watch-lists/exclusive-dossiers",
            &app.user,
            json!({"id": a}),
        )
        .await;
    assert_eq!(exclusive, 1);
    let deleted = app
        .ok("watch-lists/delete", &app.operator, json!({"id": a}))
        .await;
    assert_eq!(deleted, 1);

    assert_eq!(
        app.call("dossiers/get", Some(&app.user), json!({"id": only_a}))
            .await
            .status,
        404
    );
    let kept = app.ok("dossiers/get", &app.user, json!({"id": both})).await;
    assert_eq!(kept["watch_lists"], json!([b]));
}
