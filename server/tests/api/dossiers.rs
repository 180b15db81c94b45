//! Dossiers through the API: create, search, filter, keyset paging, edit, delete, bad input.

use crate::helpers::TestApp;
use serde_json::json;
use std::collections::HashSet;

#[sqlx::test(migrations = "../migrations")]
async fn a_dossier_is_created_found_edited_and_deleted(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let wanted = app.watch_list("Wanted").await;
    let vip = app.watch_list("VIP").await;
    let created = app
        .ok(
            "dossiers/create",
            &app.operator,
            json!({"name": "Ivan Petrov", "comment": "seen at gate 3", "active": true,
                   "meta": {"case": "A-17", "age": 41}, "watch_lists": [wanted, vip, wanted]}),
        )
        .await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["watch_lists"], json!([wanted, vip]));
    assert_eq!(created["meta"], json!({"case": "A-17", "age": 41}));

    let found = app
        .ok("dossiers/search", &app.user, json!({"q": "petro"}))
        .await;
    assert_eq!(found["dossiers"].as_array().unwrap().len(), 1);
    assert_eq!(found["dossiers"][0]["name"], "Ivan Petrov");

    let edited = app
        .ok(
            "dossiers/update",
            &app.operator,
            json!({"id": id, "name": "Ivan P.", "active": false, "meta": "{\"case\": \"B-2\"}", "watch_lists": [vip]}),
        )
        .await;
    assert_eq!(edited["name"], "Ivan P.");
    assert_eq!(edited["active"], false);
    assert_eq!(edited["watch_lists"], json!([vip]));
    assert_eq!(edited["meta"], json!({"case": "B-2"}));

    app.ok("dossiers/delete", &app.operator, json!({"id": id}))
        .await;
    assert_eq!(app.count("dossiers").await, 0);
    assert_eq!(app.count("dossier_watch_lists").await, 0);
    assert_eq!(
        app.call("dossiers/delete", Some(&app.operator), json!({"id": id}))
            .await
            .status,
        404
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_dossiers_are_refused_and_nothing_is_written(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("L").await;
    let cases = [
        (json!({"name": "", "watch_lists": [list]}), "name"),
        (
            json!({"name": "x".repeat(257), "watch_lists": [list]}),
            "name",
        ),
        (json!({"name": "A"}), "watch_lists"),
        (
            json!({"name": "A", "watch_lists": [list, 424242]}),
            "watch_lists",
        ),
        (
            json!({"name": "A", "watch_lists": [list], "meta": "[1, 2]"}),
            "meta",
        ),
        (
            json!({"name": "A", "watch_lists": [list], "meta": "{not json"}),
            "meta",
        ),
    ];
    for (body, field) in cases {
        let answer = app
            .call("dossiers/create", Some(&app.operator), body.clone())
            .await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.json()["field"], field, "{body}");
    }
    let unknown = app
        .call(
            "dossiers/create",
            Some(&app.operator),
            json!({"name": "A", "watch_lists": [list, 424242]}),
        )
        .await;
    assert_eq!(
        unknown.json()["message"],
        "unknown watch list id(s): 424242"
    );
    assert_eq!(app.count("dossiers").await, 0);
    assert_eq!(
        app.call(
            "dossiers/search",
            Some(&app.user),
            json!({"active": "perhaps"})
        )
        .await
        .json()["field"],
        "active"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn keyset_pages_cover_every_match_once(pool: sqlx::PgPool) {
    let app = TestApp::new(pool.clone()).await;
    engine::demo::add(&pool, 230).await.unwrap();
    let wanted: i64 = sqlx::query_scalar("SELECT id FROM watch_lists WHERE name = 'Demo: wanted'")
        .fetch_one(&pool)
        .await
        .unwrap();
    for filter in [
        json!({}),
        json!({"watch_list": wanted}),
        json!({"active": "false"}),
        json!({"q": "person 0001"}),
    ] {
        let expected: i64 = {
            let mut sql = "SELECT count(*) FROM dossiers d WHERE TRUE".to_string();
            if filter.get("watch_list").is_some() {
                sql += &format!(" AND EXISTS (SELECT 1 FROM dossier_watch_lists x WHERE x.dossier_id = d.id AND x.watch_list_id = {wanted})");
            }
            if filter.get("active").is_some() {
                sql += " AND NOT d.active";
            }
            if filter.get("q").is_some() {
                sql += " AND d.name ILIKE '%person 0001%'";
            }
            sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap()
        };
        assert!(expected > 0, "{filter}");
        let mut seen = HashSet::new();
        let mut last = i64::MAX;
        let mut after: Option<i64> = None;
        loop {
            let mut body = filter.clone();
            body["limit"] = json!(50);
            if let Some(a) = after {
                body["after"] = json!(a);
            }
            let page = app.ok("dossiers/search", &app.user, body).await;
            for d in page["dossiers"].as_array().unwrap() {
                let id = d["id"].as_i64().unwrap();
                assert!(id < last, "newest first, no repeats");
                last = id;
                assert!(seen.insert(id));
                if filter.get("watch_list").is_some() {
                    assert!(d["watch_lists"]
                        .as_array()
                        .unwrap()
                        .contains(&json!(wanted)));
                }
                if filter.get("active").is_some() {
                    assert_eq!(d["active"], false);
                }
                assert!(d["thumbnail"].is_string(), "demo dossiers have a photo");
            }
            match page["next_after"].as_i64() {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen.len() as i64, expected, "{filter}");
    }
    let bad = app
        .call("dossiers/search", Some(&app.user), json!({"limit": 0}))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["field"], "limit");
}

#[sqlx::test(migrations = "../migrations")]
async fn search_treats_wildcards_as_text(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("L").await;
    app.dossier("100% match", &[list]).await;
    app.dossier("1000 other", &[list]).await;
    let found = app
        .ok("dossiers/search", &app.user, json!({"q": "100%"}))
        .await;
    let names: Vec<&str> = found["dossiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["100% match"]);
}
