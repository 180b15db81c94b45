//! Faces stored without the engine and filled in by the backfill, a photo's vector replicated
//! to a Subscriber, and the start-up that refuses missing or altered model files.

use super::{search, two_people, upload, THRESHOLD};
use crate::helpers::{drop_database, fresh_database, serve, test_photo, TestApp};
use engine::sync::run::{self, RunOutcome};

#[sqlx::test(migrations = "../migrations")]
async fn the_backfill_describes_stored_photos_once_and_skips_replicated_ones(pool: sqlx::PgPool) {
    // Photos stored while the installation had no engine.
    let mut settings = crate::helpers::settings();
    settings.server.upload_limit = Some(engine::settings::ByteSize(4 * 1024 * 1024));
    let before = TestApp::with_settings(pool.clone(), settings).await;
    let list = before.watch_list("L").await;
    let dossier = before.dossier("Stored earlier", &[list]).await;
    let id = dossier.to_string();
    for image in [
        test_photo("obama.jpg"),
        engine::demo::portrait(9),
        two_people(),
    ] {
        let answer = before
            .upload(
                &before.operator,
                &[("dossier_id", id.as_bytes()), ("image", &image)],
            )
            .await;
        assert_eq!(answer.status, 200);
    }
    let revision: i64 = sqlx::query_scalar("SELECT revision FROM dossiers")
        .fetch_one(&pool)
        .await
        .unwrap();

    let backfill = || async {
        engine::faces::backfill::run(
            &pool,
            crate::helpers::face_engine(),
            face_engine::MODEL_NAME,
            2,
            2,
            |_| {},
        )
        .await
        .unwrap()
    };
    assert_eq!(engine::faces::backfill::pending(&pool).await.unwrap(), 3);
    let summary = backfill().await;
    assert_eq!(
        (
            summary.described,
            summary.no_face,
            summary.several_faces,
            summary.unreadable
        ),
        (1, 1, 1, 0)
    );
    let counts: Vec<(Option<i16>, bool)> =
        sqlx::query_as("SELECT face_count, face_vector IS NOT NULL FROM photos ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        counts,
        vec![(Some(1), true), (Some(0), false), (Some(2), false)]
    );
    // The dossier changed, so that Subscribers receive the vector.
    let after: i64 = sqlx::query_scalar("SELECT revision FROM dossiers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(after > revision);
    // Run again (after a kill, say): nothing is analysed twice.
    assert_eq!(engine::faces::backfill::pending(&pool).await.unwrap(), 0);
    assert_eq!(backfill().await.analysed(), 0);
    let entry: String =
        sqlx::query_scalar("SELECT summary FROM audit_log WHERE action = 'backfill'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(entry.contains("1 photos got a vector"), "{entry}");

    // A replicated dossier's photo is the Leader's business.
    sqlx::query("INSERT INTO remote_dossiers (remote_url, remote_id, dossier_id) VALUES ('http://leader', 1, $1)")
        .bind(dossier)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE photos SET face_count = NULL WHERE face_vector IS NULL")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(engine::faces::backfill::pending(&pool).await.unwrap(), 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_photo_replicates_with_its_vector(leader_pool: sqlx::PgPool) {
    let (sub_pool, sub_db) = fresh_database(&leader_pool).await;
    let leader = TestApp::with_faces(leader_pool).await;
    let (leader_url, leader_task) = serve(leader.router.clone()).await;
    let sub = TestApp::with_faces(sub_pool).await;

    let remote = leader.watch_list("Wanted").await;
    let dossier = leader.dossier("Barack Obama", &[remote]).await;
    assert_eq!(
        upload(&leader, dossier, &test_photo("obama.jpg"))
            .await
            .status,
        200
    );
    let local = sub.watch_list("Wanted (replica)").await;
    let replica = sub.subscribed(&leader_url, remote, local).await;
    assert!(matches!(
        run::run(&sub.state.replication, replica).await,
        Ok(RunOutcome::Done { .. })
    ));

    let vector = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, Vec<f32>>("SELECT face_vector FROM photos")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(
        vector(sub.pool.clone()).await,
        vector(leader.pool.clone()).await
    );
    // The Subscriber finds the dossier by another photo, in its replica.
    let found = search(
        &sub,
        &[
            ("image", &test_photo("obama3.jpg")),
            ("watch_list", local.to_string().as_bytes()),
        ],
    )
    .await
    .json();
    let best = &found["faces"][0]["matches"][0];
    assert_eq!(best["name"], "Barack Obama", "{found}");
    assert!(best["confidence"].as_f64().unwrap() > THRESHOLD);

    leader_task.abort();
    drop_database(&leader.pool, sub.pool.clone(), &sub_db).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missing_or_altered_model_file_stops_start_up_naming_it(pool: sqlx::PgPool) {
    let (other, url) = fresh_database(&pool).await;
    let dir = std::env::temp_dir().join(format!("dossier-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let serve = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dossier"))
            .arg("serve")
            .env("DATABASE_URL", &url)
            .env("LISTEN_ADDRESS", "127.0.0.1:0")
            .env("FACE_MODELS_DIR", &dir)
            .output()
            .expect("the binary runs")
    };
    let first = &face_engine::MODEL_FILES[0];
    let out = serve();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains(first.name) && said.contains("missing"),
        "{said}"
    );

    std::fs::write(dir.join(first.name), b"truncated").unwrap();
    let out = serve();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains(first.name) && said.contains("SHA-256"),
        "{said}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    drop_database(&pool, other, &url).await;
}
