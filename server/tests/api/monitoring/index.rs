//! The face index follows the database: a dossier deleted stops matching, one added starts,
//! a saved index is reloaded (and caught up) at the next start instead of rebuilt, and one saved
//! against another database is not used.

use super::{indexed, post_json, watched};
use crate::helpers::TestApp;
use domain::Installation;
use serde_json::{json, Value};

async fn stored_vector(app: &TestApp) -> Vec<f32> {
    sqlx::query_scalar("SELECT face_vector FROM photos ORDER BY id LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn matched(app: &TestApp, vector: &[f32]) -> Value {
    let answer = post_json(
        app,
        json!({"camera": "door", "model": face_engine::MODEL_NAME, "vectors": [vector]}),
    )
    .await;
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()["events"][0]["matched"].clone()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_index_follows_deletions_and_additions(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let (list, dossier) = watched(&app, "Wanted", json!({}), "obama.jpg").await;
    let vector = stored_vector(&app).await;
    assert_eq!(matched(&app, &vector).await["dossier_id"], dossier);

    app.ok("dossiers/delete", &app.operator, json!({"id": dossier}))
        .await;
    indexed(&app).await;
    assert_eq!(matched(&app, &vector).await, Value::Null);
    assert_eq!(app.state.monitor.index.status().unwrap().0, 0);

    let again = app.dossier("Back again", &[list]).await;
    let photo = crate::faces::upload(&app, again, &crate::helpers::test_photo("obama.jpg")).await;
    assert_eq!(photo.status, 200);
    indexed(&app).await;
    assert_eq!(matched(&app, &vector).await["dossier_id"], again);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_saved_index_is_reloaded_and_caught_up(pool: sqlx::PgPool) {
    let dir = std::env::temp_dir().join(format!("face-index-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let app = TestApp::with_faces(pool.clone()).await;
    let with_dir = |inst: &Installation| inst.clone().with_index_dir(dir.clone());
    let first = with_dir(&app.state.installation);
    let (list, _) = watched(&app, "Wanted", json!({}), "obama.jpg").await;
    first.monitor.index.refresh(&first).await.unwrap();
    let (faces, revision) = first.monitor.index.status().unwrap();
    assert_eq!(faces, 1);
    let saved: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(saved.len(), 3, "{saved:?}");

    // While the server is down, one more dossier arrives.
    let later = app.dossier("Later", &[list]).await;
    let photo = crate::faces::upload(&app, later, &crate::helpers::test_photo("biden.jpg")).await;
    assert_eq!(photo.status, 200);

    let restarted = with_dir(&app.state.installation);
    restarted.monitor.index.refresh(&restarted).await.unwrap();
    let (faces, caught_up) = restarted.monitor.index.status().unwrap();
    assert_eq!(faces, 2);
    assert!(caught_up > revision);

    // A saved index of another database (here: another epoch) is not used: rebuilt from scratch.
    sqlx::query("UPDATE sync_feed_state SET fingerprint = 'restored elsewhere'")
        .execute(&app.pool)
        .await
        .unwrap();
    let restored = with_dir(&app.state.installation);
    restored.monitor.index.refresh(&restored).await.unwrap();
    assert_eq!(restored.monitor.index.status().unwrap().0, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
