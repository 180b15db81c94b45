//! The event archive searched by face, with the real engine on real photos: "where else was
//! this person seen?" from an event or from a photo, ranked by confidence, within a time range
//! and a camera; a stranger stays below the threshold; bad requests name their field.

use super::{created, post_photo};
use crate::helpers::{multipart_request, test_photo, TestApp};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

/// A camera's post of `photo` at `captured_at`; returns the event's id.
async fn seen(app: &TestApp, camera: &str, photo: &str, captured_at: chrono::DateTime<Utc>) -> i64 {
    let answer = app
        .send(multipart_request(
            "/api/events/faces",
            &app.camera,
            &[
                ("camera", camera.as_bytes()),
                ("captured_at", captured_at.to_rfc3339().as_bytes()),
                ("image", &test_photo(photo)),
            ],
        ))
        .await;
    created(&answer)["events"][0]["id"].as_i64().unwrap()
}

fn ids(search: &Value) -> Vec<i64> {
    search["appearances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event"]["id"].as_i64().unwrap())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_event_finds_the_same_person_on_other_cameras_and_days_and_not_a_stranger(
    pool: sqlx::PgPool,
) {
    let app = TestApp::with_faces(pool).await;
    let now = Utc::now() - Duration::minutes(5);
    let yesterday = now - Duration::days(1);
    // One person on two cameras over two days, and a stranger on each camera.
    let gate_today = seen(&app, "gate", "obama.jpg", now).await;
    let lobby_yesterday = seen(&app, "lobby", "obama2.jpg", yesterday).await;
    let gate_yesterday = seen(&app, "gate", "obama3.jpg", yesterday).await;
    let stranger_gate = seen(&app, "gate", "biden.jpg", now).await;
    let stranger_lobby = seen(&app, "lobby", "biden.jpg", yesterday).await;

    // Every event that kept its face says it can be searched with.
    let page = app.ok("events/list", &app.user, json!({})).await;
    assert!(page["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["searchable"] == true));

    let found = app
        .ok("events/similar", &app.user, json!({"event": gate_today}))
        .await;
    let mut others = ids(&found);
    // The other appearances, not the event itself, not the stranger.
    assert_eq!(others.len(), 2, "{found}");
    others.sort();
    assert_eq!(others, vec![lobby_yesterday, gate_yesterday]);
    assert!(!ids(&found).contains(&stranger_gate) && !ids(&found).contains(&stranger_lobby));
    assert_eq!(found["compared"], 5);
    let first = &found["appearances"][0];
    assert!(first["event"]["camera"] == "gate" || first["event"]["camera"] == "lobby");
    assert!(first["event"]["has_face"] == true && first["event"]["captured_at"].is_string());
    let confidences: Vec<f64> = found["appearances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["confidence"].as_f64().unwrap())
        .collect();
    assert!(confidences[0] >= confidences[1], "ranked: {confidences:?}");
    assert!(confidences[1] >= found["min_confidence"].as_f64().unwrap());

    // With every threshold off, the strangers come too, but below the same person.
    let everyone = app
        .ok(
            "events/similar",
            &app.user,
            json!({"event": gate_today, "min_confidence": "0"}),
        )
        .await;
    let all = ids(&everyone);
    assert_eq!(all.len(), 4);
    assert_eq!(
        all[2..]
            .iter()
            .copied()
            .collect::<std::collections::HashSet<_>>(),
        [stranger_gate, stranger_lobby].into()
    );

    // The camera and the time range narrow it.
    let lobby = app
        .ok(
            "events/similar",
            &app.user,
            json!({"event": gate_today, "camera": "lobby"}),
        )
        .await;
    assert_eq!(ids(&lobby), vec![lobby_yesterday]);
    assert_eq!(lobby["compared"], 2);
    let today = app
        .ok(
            "events/similar",
            &app.user,
            json!({"event": gate_yesterday, "from": (now - Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(ids(&today), vec![gate_today]);

    // A photo of the person finds every appearance (the event made from this very photo
    // first); an event written since the last search is found at once.
    let later = seen(&app, "garage", "obama2.jpg", now).await;
    let by_photo = app
        .send(multipart_request(
            "/api/events/similar-to-photo",
            &app.user,
            &[("image", &test_photo("obama.jpg"))],
        ))
        .await;
    assert_eq!(
        by_photo.status,
        200,
        "{}",
        String::from_utf8_lossy(&by_photo.body)
    );
    let by_photo = by_photo.json();
    assert_eq!(ids(&by_photo)[0], gate_today);
    let mut all = ids(&by_photo);
    all.sort();
    assert_eq!(
        all,
        vec![gate_today, lobby_yesterday, gate_yesterday, later]
    );
    assert_eq!(by_photo["faces_in_photo"], 1);
    assert!(by_photo["face_box"]["width"].as_u64().unwrap() > 50);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_search_that_cannot_be_made_says_why_and_which_field(pool: sqlx::PgPool) {
    let app = TestApp::with_faces(pool).await;
    let event = created(&post_photo(&app, "gate", &test_photo("obama.jpg")).await)["events"][0]
        ["id"]
        .as_i64()
        .unwrap();
    let refused = |answer: crate::helpers::Answer, status: u16, field: &str| {
        assert_eq!(
            answer.status,
            status,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let body = answer.json();
        assert!(body.to_string().contains(field), "{field}: {body}");
    };
    for (body, field) in [
        (
            json!({"event": event, "min_confidence": "1.5"}),
            "min_confidence",
        ),
        (json!({"event": event, "limit": "0"}), "limit"),
        (json!({"event": event, "limit": "100000"}), "limit"),
        (json!({"event": event, "from": "last week"}), "from"),
        (json!({"event": event, "site": "far"}), "site"),
        (
            json!({"event": event, "from": "2026-12-02T00:00", "to": "2026-12-01T00:00"}),
            "to",
        ),
    ] {
        refused(
            app.call("events/similar", Some(&app.user), body).await,
            400,
            field,
        );
    }
    refused(
        app.call("events/similar", Some(&app.user), json!({})).await,
        400,
        "event",
    );
    refused(
        app.call(
            "events/similar",
            Some(&app.user),
            json!({"face": "not-kept"}),
        )
        .await,
        404,
        "search with the photo again",
    );
    refused(
        app.call(
            "events/similar",
            Some(&app.user),
            json!({"event": event + 1000}),
        )
        .await,
        404,
        "does not exist",
    );
    // An event made before events kept their faces.
    sqlx::query("UPDATE events SET face_code = NULL WHERE id = $1")
        .bind(event)
        .execute(&app.pool)
        .await
        .unwrap();
    refused(
        app.call("events/similar", Some(&app.user), json!({"event": event}))
            .await,
        400,
        "kept no face",
    );
    // A photo without a face, one that is no image, and none at all.
    let by_photo = |image: Vec<u8>| {
        app.send(multipart_request(
            "/api/events/similar-to-photo",
            &app.user,
            &[("image", &image)],
        ))
    };
    refused(by_photo(engine::demo::portrait(3)).await, 422, "no face");
    refused(by_photo(b"not an image".to_vec()).await, 400, "image");
    refused(
        app.send(multipart_request(
            "/api/events/similar-to-photo",
            &app.user,
            &[("camera", b"gate")],
        ))
        .await,
        400,
        "image",
    );
    // Not without logging in.
    let anonymous = app
        .call("events/similar", None, json!({"event": event}))
        .await;
    assert_eq!(anonymous.status, 401);
}
