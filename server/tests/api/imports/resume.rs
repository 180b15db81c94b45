use super::{folder, import};
use crate::helpers::{drop_database, fresh_database, TestApp};
use domain::imports::{ImportOptions, ImportState};
use engine::imports::record::{self, NewImport};
use engine::imports::source::Photos;
use engine::imports::Outcome;
use std::fmt::Write;

/// People without a key: only the import's own record of where it stopped keeps a second
/// run from adding them twice.
fn people(n: usize) -> String {
    let mut csv = String::from("name,lists\n");
    for i in 0..n {
        writeln!(csv, "Person {i},L").unwrap();
    }
    csv
}

#[sqlx::test(migrations = "../migrations")]
async fn an_import_stopped_halfway_goes_on_from_its_last_batch(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    app.watch_list("L").await;
    let file = folder("stopped").join("people.csv");
    std::fs::write(&file, people(2_500)).unwrap();
    let new = NewImport {
        source: "folder",
        file_name: "people.csv".into(),
        sha256: engine::imports::file_digest(file.clone()).await.unwrap(),
        actor: crate::helpers::test_actor(),
        options: ImportOptions::default(),
    };
    let id = record::insert(&app.pool, &new).await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let outcome = app
        .state
        .imports
        .run(id, &file, Photos::None, &stop, || {}, |_| stop.cancel())
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Stopped));
    let halfway = record::get(&app.pool, id).await.unwrap();
    assert_eq!(
        (halfway.state, halfway.interrupted),
        (ImportState::Running, true)
    );
    assert_eq!(halfway.rows_done, 1_000, "one batch written");
    assert_eq!(app.count("dossiers").await, 1_000);

    let done = import(&app, &file, Photos::None, ImportOptions::default()).await;
    assert_eq!(done.id, id, "the same import, resumed");
    assert_eq!(
        (done.state, done.created, done.rows_done),
        (ImportState::Done, 2_500, 2_500)
    );
    assert_eq!(app.count("dossiers").await, 2_500, "nobody added twice");

    // The same file again: its rows have no key to update by, so they are refused.
    let again = import(&app, &file, Photos::None, ImportOptions::default()).await;
    assert_eq!((again.created, again.refused), (0, 2_500));
    assert_eq!(app.count("dossiers").await, 2_500);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_command_killed_halfway_is_finished_by_running_it_again(pool: sqlx::PgPool) {
    let (other, url) = fresh_database(&pool).await;
    sqlx::query("INSERT INTO watch_lists (name) VALUES ('L')")
        .execute(&other)
        .await
        .unwrap();
    let dir = folder("killed");
    let file = dir.join("people.csv");
    std::fs::write(&file, people(60_000)).unwrap();
    let command = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dossier"));
        command
            .args(["import", file.to_str().unwrap(), "--report"])
            .arg(dir.join("report.csv"))
            .env("DATABASE_URL", &url)
            .env("FACE_MODEL", "face-v1")
            .env("FACE_VECTOR_LENGTH", "4");
        command
    };
    let mut child = command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut written = 0_i64;
    for _ in 0..600 {
        written = sqlx::query_scalar("SELECT coalesce(max(rows_done), 0) FROM imports")
            .fetch_one(&other)
            .await
            .unwrap();
        if written > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(written > 0, "the import wrote a batch before it was killed");
    let stopped: i64 = sqlx::query_scalar("SELECT count(*) FROM dossiers")
        .fetch_one(&other)
        .await
        .unwrap();
    assert!(stopped < 60_000, "killed before the end ({stopped})");

    let out = command().output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("resuming import"), "{said}");
    let dossiers: i64 = sqlx::query_scalar("SELECT count(*) FROM dossiers")
        .fetch_one(&other)
        .await
        .unwrap();
    assert_eq!(dossiers, 60_000, "every row once, none twice");
    drop_database(&pool, other, &url).await;
}
