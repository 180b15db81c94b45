//! A search made from the page: kept for its user, with an address of its own.

use super::upload;
use crate::helpers::{multipart_request, test_photo, TestApp};
use serde_json::{json, Value};

#[sqlx::test(migrations = "../migrations")]
async fn a_search_from_the_page_gets_an_address_of_its_own_for_its_user_only(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let list = app.watch_list("Wanted").await;
    let obama = app.dossier("Barack Obama", &[list]).await;
    assert_eq!(
        upload(&app, obama, &test_photo("obama.jpg")).await.status,
        200
    );

    // As a browser's plain form post: answered with the way to the results page.
    let from_page = |image: Vec<u8>| {
        let mut request = multipart_request("/api/faces/search", &app.user, &[("image", &image)]);
        request
            .headers_mut()
            .insert("accept", "text/html,application/xhtml+xml".parse().unwrap());
        request
    };
    let answer = app.send(from_page(test_photo("obama2.jpg"))).await;
    assert_eq!(answer.status, 302);
    let location = answer.headers["location"].to_str().unwrap().to_string();
    let id = location
        .strip_prefix("/faces/search?result=")
        .expect(&location)
        .to_string();

    let kept = app
        .ok("faces/searched", &app.user, json!({ "id": id }))
        .await;
    assert_eq!(
        kept["found"]["faces"][0]["matches"][0]["dossier_id"], obama,
        "{kept}"
    );
    assert_eq!(kept["has_preview"], true);
    let preview = app
        .get(&format!("/faces/previews/{id}"), Some(&app.user))
        .await;
    assert_eq!(preview.status, 200);
    assert_eq!(
        image::load_from_memory(&preview.body).unwrap().height(),
        512
    );
    // Another user cannot read it.
    assert_eq!(
        app.ok("faces/searched", &app.admin, json!({ "id": id }))
            .await,
        Value::Null
    );
    assert_eq!(
        app.get(&format!("/faces/previews/{id}"), Some(&app.admin))
            .await
            .status,
        404
    );

    // A refusal is kept too, for the page to show.
    let answer = app.send(from_page(b"not an image".to_vec())).await;
    let location = answer.headers["location"].to_str().unwrap().to_string();
    let id = location.strip_prefix("/faces/search?result=").unwrap();
    let kept = app
        .ok("faces/searched", &app.user, json!({ "id": id }))
        .await;
    assert!(
        kept["refused"].as_str().unwrap().contains("is not a JPEG"),
        "{kept}"
    );
}
