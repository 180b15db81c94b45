//! The face index follows the database: a dossier deleted stops matching, one added starts
//! (at once: a camera's post does not wait for the next refresh to see it),
//! a saved index is reloaded (and caught up) at the next start instead of rebuilt, and one saved
//! against another database is not used. A replica's full sync is indexed when it ends (after
//! its verification), while other lists' changes are indexed meanwhile.

use super::{indexed, post_json, watched};
use crate::helpers::TestApp;
use engine::monitoring::index::Save;
use engine::Installation;
use serde_json::{json, Value};

async fn stored_vector(app: &TestApp) -> Vec<f32> {
    sqlx::query_scalar("SELECT face_vector FROM photos ORDER BY id LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn vector_of(app: &TestApp, dossier: i64) -> Vec<f32> {
    sqlx::query_scalar("SELECT face_vector FROM photos WHERE dossier_id = $1")
        .bind(dossier)
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
    assert_eq!(app.state.monitoring.index.status().unwrap().0, 0);

    let again = app.dossier("Back again", &[list]).await;
    let photo = crate::faces::upload(&app, again, &crate::helpers::test_photo("obama.jpg")).await;
    assert_eq!(photo.status, 200);
    indexed(&app).await;
    assert_eq!(matched(&app, &vector).await["dossier_id"], again);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_photo_enrolled_a_moment_before_a_post_is_matched_by_it(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let (list, _) = watched(&app, "Wanted", json!({}), "obama.jpg").await;

    // No refresh in between (a server does one every second): the post itself catches up.
    let enrolled = app.dossier("Just enrolled", &[list]).await;
    let photo =
        crate::faces::upload(&app, enrolled, &crate::helpers::test_photo("biden.jpg")).await;
    assert_eq!(photo.status, 200);
    let biden = vector_of(&app, enrolled).await;
    assert_eq!(matched(&app, &biden).await["dossier_id"], enrolled);
    assert_eq!(app.state.monitoring.index.status().unwrap().0, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_saved_index_is_reloaded_and_caught_up(pool: sqlx::PgPool) {
    let dir = std::env::temp_dir().join(format!("face-index-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let app = TestApp::with_faces(pool.clone()).await;
    // The same installation as another process over the database, its index saved in `dir`.
    let with_dir = |inst: &Installation| {
        let mut settings = (*inst.settings).clone();
        settings.monitoring.index_dir = Some(dir.clone());
        Installation::new(inst.pool.clone(), settings, inst.faces.engine.clone()).unwrap()
    };
    let first = with_dir(&app.state.installation);
    let (list, _) = watched(&app, "Wanted", json!({}), "obama.jpg").await;
    first.monitoring.index.refresh().await.unwrap();
    // What the index's worker does after a refresh.
    first.monitoring.index.save(Save::WhenDue).await;
    let (faces, revision) = first.monitoring.index.status().unwrap();
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
    restarted.monitoring.index.refresh().await.unwrap();
    let (faces, caught_up) = restarted.monitoring.index.status().unwrap();
    assert_eq!(faces, 2);
    assert!(caught_up > revision);

    // A saved index of another database (here: another epoch) is not used: rebuilt from scratch.
    sqlx::query("UPDATE sync_feed_state SET fingerprint = 'restored elsewhere'")
        .execute(&app.pool)
        .await
        .unwrap();
    let restored = with_dir(&app.state.installation);
    restored.monitoring.index.refresh().await.unwrap();
    assert_eq!(restored.monitoring.index.status().unwrap().0, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_full_sync_is_indexed_when_it_ends_and_other_lists_meanwhile(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let (here, _) = watched(&app, "Here", json!({}), "obama.jpg").await;
    let (faces, revision) = app.state.monitoring.index.status().unwrap();
    assert_eq!(faces, 1);

    // "There" is a replica whose first sync is under way: its run is a full one and a live
    // session holds its claim (what `sync::run` does while it pulls pages).
    let there = app
        .ok(
            "watch-lists/create",
            &app.operator,
            json!({"name": "There", "active": true}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let synced = app.dossier("Arrived by sync", &[there]).await;
    let photo = crate::faces::upload(&app, synced, &crate::helpers::test_photo("biden.jpg")).await;
    assert_eq!(photo.status, 200);
    let replica: i64 = sqlx::query_scalar(
        "INSERT INTO replicas (watch_list_id, remote_url, remote_list_id, run_id, run_full, state)
         VALUES ($1, 'http://leader.invalid', 7, 1, TRUE, 'running') RETURNING id",
    )
    .bind(there)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO sync_runs (replica_id, full_resync, cursor_from) VALUES ($1, TRUE, 0)",
    )
    .bind(replica)
    .execute(&app.pool)
    .await
    .unwrap();
    let mut claim = app.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(replica)
        .execute(&mut *claim)
        .await
        .unwrap();

    // Meanwhile a dossier is added to a list of this installation's own.
    let local = app.dossier("Added here", &[here]).await;
    let photo = crate::faces::upload(&app, local, &crate::helpers::test_photo("biden.jpg")).await;
    assert_eq!(photo.status, 200);
    indexed(&app).await;
    let (faces, during) = app.state.monitoring.index.status().unwrap();
    assert_eq!(
        faces, 2,
        "the local dossier is indexed, the one the sync wrote is not yet"
    );
    assert_eq!(
        during, revision,
        "the index is not current until the sync is in it"
    );
    let biden = vector_of(&app, local).await;
    assert_eq!(matched(&app, &biden).await["dossier_id"], local);

    // Its last page is in and the run is verifying the replica against the Leader (it still
    // holds its claim): a divergence found now would start it over, so it is not indexed yet.
    sqlx::query(
        "UPDATE replicas SET run_id = NULL, run_full = FALSE, state = 'idle' WHERE id = $1",
    )
    .bind(replica)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE sync_runs SET outcome = 'success', finished_at = now() WHERE replica_id = $1",
    )
    .bind(replica)
    .execute(&app.pool)
    .await
    .unwrap();
    indexed(&app).await;
    assert_eq!(
        app.state.monitoring.index.status().unwrap().0,
        2,
        "a full sync being verified is not indexed yet"
    );

    // The run ends (its claim released): everything it wrote is indexed at the next refresh.
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(replica)
        .execute(&mut *claim)
        .await
        .unwrap();
    indexed(&app).await;
    let (faces, after) = app.state.monitoring.index.status().unwrap();
    assert_eq!(faces, 3);
    assert!(after > revision);
    let counter: i64 = sqlx::query_scalar("SELECT last_value FROM sync_revision")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(after, counter);
}
