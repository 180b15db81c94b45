//! The CSV reports: the events of a filter and a list's dossiers, read back as a spreadsheet
//! reads them: one row per event or dossier, across the batches the server streams them in,
//! no cell a formula.

use crate::helpers::{add_photo, TestApp};
use serde_json::json;

/// The rows of a CSV download (the header first), after checking it is one.
fn rows(answer: &crate::helpers::Answer) -> Vec<Vec<String>> {
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(answer.headers[axum::http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(answer.headers[axum::http::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename="));
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&answer.body[..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_day_of_events_is_one_row_per_event_filtered_as_on_the_page(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("Wanted").await;
    let dossier = app.dossier("=HYPERLINK(\"http://evil\")", &[list]).await;
    add_photo(&app, dossier, 1, Some("[1, 0, 0, 0]")).await;
    app.state.monitoring.index.refresh().await.unwrap();
    for (camera, vector) in [
        ("gate", [1.0, 0.0, 0.0, 0.0]),
        ("gate", [0.0, 1.0, 0.0, 0.0]),
    ] {
        let posted = app
            .post(
                "/api/events/faces",
                Some(&app.camera),
                json!({"camera": camera, "model": "face-v1", "vectors": [vector]}),
            )
            .await;
        assert_eq!(
            posted.status,
            201,
            "{}",
            String::from_utf8_lossy(&posted.body)
        );
    }
    // More than one batch of the stream: 2 500 unmatched events of another camera today.
    sqlx::query("SELECT events_partition(now()::date)")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO events (captured_at, camera)
         SELECT now() - make_interval(secs => g), 'yard' FROM generate_series(1, 2500) g",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let all = rows(&app.get("/events/export.csv", Some(&app.user)).await);
    assert_eq!(all[0][..4], ["id", "captured_at", "last_seen_at", "camera"]);
    assert_eq!(all.len(), 1 + 2 + 2500);
    let ids: std::collections::HashSet<&String> = all[1..].iter().map(|r| &r[0]).collect();
    assert_eq!(ids.len(), 2502, "no event twice");

    let matched = rows(
        &app.get("/events/export.csv?matched=yes", Some(&app.user))
            .await,
    );
    assert_eq!(matched.len(), 2);
    let header = &matched[0];
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = &matched[1];
    assert_eq!(row[at("camera")], "gate");
    assert_eq!(row[at("dossier_id")], dossier.to_string());
    // A name a spreadsheet would run is written as text.
    assert_eq!(row[at("dossier_name")], "'=HYPERLINK(\"http://evil\")");
    assert_eq!(row[at("watch_list")], "Wanted");
    assert!(row[at("confidence")].parse::<f64>().unwrap() > 0.9);
    let gate = rows(
        &app.get("/events/export.csv?camera=gate", Some(&app.user))
            .await,
    );
    assert_eq!(gate.len(), 3);

    // Refused: a bad filter names its field; nobody logged in sees nothing.
    let bad = app
        .get("/events/export.csv?matched=maybe", Some(&app.user))
        .await;
    assert_eq!(bad.status, 400);
    assert!(String::from_utf8_lossy(&bad.body).contains("matched"));
    assert_eq!(app.get("/events/export.csv", None).await.status, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lists_dossiers_are_one_row_each_with_their_lists_and_meta(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("Night shift").await;
    let other = app.watch_list("Contractors").await;
    let both = app.dossier("Jane Roe", &[list, other]).await;
    app.dossier("Somebody else", &[other]).await;
    // The key a bulk import gives a person goes out with them.
    sqlx::query("UPDATE dossiers SET external_key = 'HR-0042' WHERE id = $1")
        .bind(both)
        .execute(&app.pool)
        .await
        .unwrap();
    // More than a batch of dossiers.
    sqlx::query(
        "WITH made AS (INSERT INTO dossiers (name, meta)
                       SELECT 'Guest ' || g, jsonb_build_object('badge', g)
                       FROM generate_series(1, 1200) g RETURNING id)
         INSERT INTO dossier_watch_lists (watch_list_id, dossier_id) SELECT $1, id FROM made",
    )
    .bind(list)
    .execute(&app.pool)
    .await
    .unwrap();
    let all = rows(
        &app.get(&format!("/watch-lists/{list}/export.csv"), Some(&app.user))
            .await,
    );
    assert_eq!(
        all[0],
        [
            "id",
            "external_key",
            "name",
            "comment",
            "active",
            "watch_lists",
            "photos",
            "meta",
            "created_at",
            "modified_at"
        ]
    );
    assert_eq!(all.len(), 1 + 1201);
    let jane = all.iter().find(|r| r[0] == both.to_string()).unwrap();
    assert_eq!(jane[1], "HR-0042");
    assert_eq!(jane[2], "Jane Roe");
    assert_eq!(jane[5], "Contractors; Night shift");
    let guest = all.iter().find(|r| r[2] == "Guest 7").unwrap();
    assert_eq!(guest[1], "");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&guest[7]).unwrap(),
        json!({"badge": 7})
    );
    assert!(!all.iter().any(|r| r[2] == "Somebody else"));
    let missing = app
        .get("/watch-lists/999999/export.csv", Some(&app.user))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        app.get(&format!("/watch-lists/{list}/export.csv"), None)
            .await
            .status,
        401
    );
}
