use super::{folder, import, reason, refusals};
use crate::helpers::{test_photo, TestApp};
use domain::imports::ImportOptions;
use engine::imports::source::{Folder, Photos};
use image::{imageops, DynamicImage, GenericImage, ImageFormat};
use std::fmt::Write;

fn png(picture: &DynamicImage) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut bytes, ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// The photos folder: four faces, and the photos an import must refuse.
fn photos() -> std::path::PathBuf {
    let dir = folder("photos");
    for name in ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"] {
        std::fs::write(dir.join(name), test_photo(name)).unwrap();
    }
    let obama = image::load_from_memory(&test_photo("obama.jpg")).unwrap();
    let biden = image::load_from_memory(&test_photo("biden.jpg")).unwrap();
    let mut two = DynamicImage::new_rgb8(
        obama.width() + biden.width(),
        obama.height().max(biden.height()),
    );
    two.copy_from(&obama, 0, 0).unwrap();
    two.copy_from(&biden, obama.width(), 0).unwrap();
    std::fs::write(dir.join("two.png"), png(&two)).unwrap();
    let small = obama.resize(
        obama.width() / 8,
        obama.height() / 8,
        imageops::FilterType::Triangle,
    );
    std::fs::write(dir.join("small.png"), png(&small)).unwrap();
    std::fs::write(
        dir.join("blank.png"),
        png(&DynamicImage::new_rgb8(300, 300)),
    )
    .unwrap();
    std::fs::write(dir.join("broken.jpg"), b"this is not a photo").unwrap();
    dir
}

#[sqlx::test(migrations = "../migrations")]
async fn rows_are_imported_or_refused_with_their_reason_and_importing_again_changes_nothing(
    pool: sqlx::PgPool,
) {
    let app = TestApp::with_faces(pool).await;
    app.watch_list("Imported").await;
    let dir = photos();
    let faces = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"];
    let mut csv = String::from("external_key,name,comment,active,lists,meta.case,photos\n");
    for i in 1..=40 {
        let photo = faces[i % faces.len()];
        writeln!(csv, "K{i},Person {i},row {i},yes,Imported,C-{i},{photo}").unwrap();
    }
    // Lines 42 on: what must be refused, each for its own reason.
    let bad = [
        "B1,No face,,,Imported,,blank.png",
        "B2,Two faces,,,Imported,,two.png",
        "B3,Too small,,,Imported,,small.png",
        "B4,Unreadable,,,Imported,,broken.jpg",
        "B5,Unknown list,,,Nowhere,,obama.jpg",
        "K1,Same key,,,Imported,,",
        "B6,Escaping,,,Imported,,../../etc/passwd",
        "B7,Missing photo,,,Imported,,gone.jpg",
        "B8,Bad active,,maybe,Imported,,",
        "B9,\"Open quote,,,Imported,,",
        "B10,After the quote,,,Imported,,",
    ];
    for row in bad {
        writeln!(csv, "{row}").unwrap();
    }
    let file = folder("csv").join("people.csv");
    std::fs::write(&file, &csv).unwrap();
    let open = || Photos::Folder(Folder::open(&dir).unwrap());

    let first = import(&app, &file, open(), ImportOptions::default()).await;
    let refused = refusals(&app, first.id).await;
    assert_eq!(
        (first.created, first.refused, first.photos),
        (40, 10, 40),
        "{refused:?}"
    );
    assert_eq!((first.rows_total, first.rows_done), (Some(50), 50));
    assert_eq!(refused.len(), 10);
    for (line, words) in [
        (42, "shows no face"),
        (43, "shows 2 faces"),
        (44, "pixels tall"),
        (45, "JPEG, PNG, WebP or GIF"),
        (46, "no watch list is called \"Nowhere\""),
        (47, "also on line 2"),
        (48, "leads outside the photos folder"),
        (49, "is not in the photos folder"),
        (50, "active: must be true or false"),
        (51, "a quote is left open"),
    ] {
        assert!(
            reason(&refused, line).contains(words),
            "line {line}: {refused:?}"
        );
    }
    assert_eq!(refused[0].external_key.as_deref(), Some("B1"));
    let described: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM dossiers d JOIN photos p ON p.dossier_id = d.id
         WHERE d.external_key LIKE 'K%' AND p.face_vector IS NOT NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        described, 40,
        "every imported person has a photo with a vector"
    );
    let person: (String, bool, serde_json::Value) =
        sqlx::query_as("SELECT comment, active, meta FROM dossiers WHERE external_key = 'K7'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        person,
        ("row 7".into(), true, serde_json::json!({"case": "C-7"}))
    );
    let id: i64 = sqlx::query_scalar("SELECT id FROM dossiers WHERE external_key = 'K7'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let shown = app
        .ok("dossiers/get", &app.user, serde_json::json!({"id": id}))
        .await;
    assert_eq!(shown["external_key"], "K7", "the dossier shows its key");

    let before = crate::helpers::snapshot(&app.pool).await;
    let again = import(&app, &file, open(), ImportOptions::default()).await;
    assert_eq!(
        (again.created, again.updated, again.unchanged, again.photos),
        (0, 0, 40, 0)
    );
    assert_eq!(
        crate::helpers::snapshot(&app.pool).await,
        before,
        "a second import changes nothing"
    );
    let entries: Vec<String> =
        sqlx::query_scalar("SELECT summary FROM audit_log WHERE action = 'import' ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(entries.len(), 2, "one audit entry per import: {entries:?}");
    assert!(entries[0].contains("40 dossiers created") && entries[0].contains("10 rows refused"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_changed_row_updates_its_dossier_and_missing_lists_are_created_when_asked(
    pool: sqlx::PgPool,
) {
    let app = TestApp::new(pool).await;
    let kept = app.watch_list("Kept").await;
    let dir = folder("update");
    let file = dir.join("people.csv");
    std::fs::write(&file, "key;name;lists\nA-1;Ann;Kept\nA-2;Bob;Kept\n").unwrap();
    import(&app, &file, Photos::None, ImportOptions::default()).await;
    std::fs::write(
        &file,
        "key;name;lists\nA-1;Ann Smith;New list\nA-2;Bob;Kept\n",
    )
    .unwrap();
    let refused = import(&app, &file, Photos::None, ImportOptions::default()).await;
    assert_eq!(
        (refused.updated, refused.refused),
        (0, 1),
        "an unknown list is refused"
    );
    let options = ImportOptions::parse(true, "").unwrap();
    let second = import(&app, &file, Photos::None, options).await;
    assert_eq!((second.updated, second.unchanged), (1, 1));
    assert_eq!(second.lists_created, ["New list"]);
    let (name, lists): (String, i64) = sqlx::query_as(
        "SELECT d.name, (SELECT count(*) FROM dossier_watch_lists m WHERE m.dossier_id = d.id)
         FROM dossiers d WHERE external_key = 'A-1'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (name.as_str(), lists),
        ("Ann Smith", 2),
        "lists are joined, none left"
    );
    let in_kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM dossier_watch_lists WHERE watch_list_id = $1")
            .bind(kept)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(in_kept, 2);
}
