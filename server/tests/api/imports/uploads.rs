use crate::helpers::{multipart_request, settings, TestApp};
use std::io::Write;
use zip::write::SimpleFileOptions;

/// A ZIP of these entries, deflated.
fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        writer
            .start_file(*name, SimpleFileOptions::default())
            .unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

async fn upload(app: &TestApp, token: &str, fields: &[(&str, &[u8])]) -> crate::helpers::Answer {
    app.send(multipart_request("/api/imports/upload", token, fields))
        .await
}

/// What is left in the uploads' folder.
fn left(app: &TestApp) -> Vec<String> {
    std::fs::read_dir(&app.state.imports.settings.dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the queued uploads as the server's worker does, until they end.
async fn run_queued(app: &TestApp) {
    // A runtime of its own: stopping it must not stop the installation.
    let mut workers = engine::workers::Workers::new(
        tokio_util::sync::CancellationToken::new(),
        Default::default(),
    );
    let imports = app.state.imports.clone();
    workers.start(move || engine::imports::worker::ImportRunner::new(imports.clone()));
    for _ in 0..200 {
        let busy: i64 =
            sqlx::query_scalar("SELECT count(*) FROM imports WHERE state IN ('queued', 'running')")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        if busy == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    workers.stop(std::time::Duration::from_secs(5)).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_zip_uploaded_is_imported_in_the_background_with_its_report(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let png = engine::demo::portrait(3);
    let csv = "external_key,name,lists,photos\nP1,Ann,Staff,people/ann.png\nP2,Bob,Staff,people/gone.png\nP3,Cy,Staff,\n";
    let archive = zip(&[
        ("export/people.csv", csv.as_bytes()),
        ("export/people/ann.png", &png),
    ]);
    let refused = upload(&app, &app.operator, &[("file", &archive)]).await;
    assert_eq!(refused.status, 403, "Administrators only");
    let answer = upload(
        &app,
        &app.admin,
        &[("file", &archive), ("create_lists", b"true")],
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let id = answer.json()["id"].as_i64().unwrap();
    assert_eq!(answer.json()["state"], "queued");
    run_queued(&app).await;
    let import = app
        .ok("imports/get", &app.admin, serde_json::json!({ "id": id }))
        .await;
    assert_eq!(import["state"], "done", "{import}");
    assert_eq!(
        (import["created"].as_i64(), import["refused"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        import["photos"], 1,
        "the photo beside the CSV, found by its name in the CSV"
    );
    let report = app
        .get(&format!("/imports/{id}/report.csv"), Some(&app.admin))
        .await;
    assert_eq!(report.status, 200);
    let mut rows = csv::Reader::from_reader(report.body.as_slice());
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!((&rows[0][0], &rows[0][1]), ("3", "P2"));
    assert!(
        rows[0][3].contains("\"people/gone.png\" is not in the ZIP"),
        "{:?}",
        rows[0]
    );
    assert!(
        left(&app).is_empty(),
        "the upload's files go when it ends: {:?}",
        left(&app)
    );

    // The same ZIP again while nothing runs: a new import, which changes nothing.
    let again = upload(
        &app,
        &app.admin,
        &[("file", &archive), ("create_lists", b"true")],
    )
    .await;
    let again = again.json()["id"].as_i64().unwrap();
    run_queued(&app).await;
    let import = app
        .ok(
            "imports/get",
            &app.admin,
            serde_json::json!({ "id": again }),
        )
        .await;
    assert_eq!(
        (import["created"].as_i64(), import["unchanged"].as_i64()),
        (Some(0), Some(2))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bad_zip_is_refused_saying_why_and_leaves_nothing(pool: sqlx::PgPool) {
    let mut s = settings();
    s.engine.imports.limit = engine::settings::ByteSize(256 * 1024);
    let app = TestApp::with_settings(pool, s).await;
    let csv: &[u8] = b"name,lists\nAnn,L\n";
    // A CSV of zeros that unpacks to 40 times the largest upload.
    let bomb = zip(&[
        ("people.csv", csv),
        ("zeros.png", &vec![0u8; 10 * 1024 * 1024]),
    ]);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"not a zip at all".to_vec(), 400, "is not a ZIP archive"),
        (zip(&[("a.png", b"x")]), 400, "holds no .csv file"),
        (
            zip(&[("a.csv", csv), ("b.csv", csv)]),
            400,
            "holds 2 CSV files",
        ),
        (zip(&[("a.csv", b"nmae\nAnn\n")]), 400, "\"nmae\""),
        (bomb, 400, "ZIP bomb"),
        (vec![7u8; 300 * 1024], 413, "IMPORT_LIMIT"),
        (Vec::new(), 400, "choose the ZIP"),
    ];
    let before = crate::helpers::snapshot(&app.pool).await;
    for (body, status, words) in cases {
        let answer = upload(&app, &app.admin, &[("file", &body)]).await;
        let message = answer.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(answer.status, status, "{words}: {message}");
        assert!(message.contains(words), "{words}: {message}");
    }
    assert_eq!(app.count("imports").await, 0);
    assert_eq!(crate::helpers::snapshot(&app.pool).await, before);
    assert!(left(&app).is_empty(), "no upload is kept: {:?}", left(&app));
}
