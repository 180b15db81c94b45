//! Verdicts on matches and a list's calibration: operators confirm matches or mark them "not
//! this person" (recorded, audited, shown on the event and the dossier); the list's
//! calibration shows their confidences and proposes a threshold between them, which only an
//! Administrator applies.

use super::post_json;
use crate::helpers::{add_photo, TestApp};
use serde_json::{json, Value};

/// A match `distance` from the dossier's face [1, 0, 0, 0]; returns the event's id.
async fn matched(app: &TestApp, distance: f32) -> i64 {
    let answer = post_json(
        app,
        json!({"camera": "gate", "model": "face-v1", "vectors": [[1.0, distance, 0.0, 0.0]]}),
    )
    .await;
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let event = &answer.json()["events"][0];
    assert!(event["matched"].is_object(), "{event}");
    event["id"].as_i64().unwrap()
}

async fn judge(app: &TestApp, token: &str, id: i64, verdict: &str) -> crate::helpers::Answer {
    app.call(
        "events/judge",
        Some(token),
        json!({"id": id, "verdict": verdict}),
    )
    .await
}

fn confidences(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn verdicts_are_recorded_and_the_calibration_proposes_a_threshold_between_them(
    pool: sqlx::PgPool,
) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("Wanted").await;
    let dossier = app.dossier("Jane Roe", &[list]).await;
    add_photo(&app, dossier, 1, Some("[1, 0, 0, 0]")).await;
    app.state.monitoring.index.refresh().await.unwrap();
    let mut confirmed = Vec::new();
    for d in [0.05, 0.1, 0.15] {
        confirmed.push(matched(&app, d).await);
    }
    let mut rejected = Vec::new();
    for d in [0.3, 0.35] {
        rejected.push(matched(&app, d).await);
    }
    // A reader may not judge; an operator may.
    assert_eq!(
        judge(&app, &app.user, confirmed[0], "confirmed")
            .await
            .status,
        403
    );
    for id in &confirmed {
        assert_eq!(
            judge(&app, &app.operator, *id, "confirmed").await.status,
            200
        );
    }
    for id in &rejected {
        assert_eq!(
            judge(&app, &app.operator, *id, "rejected").await.status,
            200
        );
    }

    // Shown on the event, with who said it.
    let page = app.ok("events/list", &app.user, json!({})).await;
    let events = page["events"].as_array().unwrap();
    let of = |id: i64| events.iter().find(|e| e["id"] == id).unwrap().clone();
    assert_eq!(of(confirmed[0])["verdict"]["verdict"], "confirmed");
    assert_eq!(of(rejected[0])["verdict"]["verdict"], "rejected");
    assert_eq!(of(rejected[0])["verdict"]["by"], "operator");
    // And on the dossier.
    let on_dossier = app
        .ok("dossiers/verdicts", &app.user, json!({"id": dossier}))
        .await;
    assert_eq!(on_dossier.as_array().unwrap().len(), 5);
    // Audited, one entry per verdict, naming the dossier.
    let audit = app
        .ok(
            "audit/entries",
            &app.admin,
            json!({"subject_kind": "event"}),
        )
        .await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(
        entries.iter().filter(|e| e["action"] == "confirm").count(),
        3
    );
    assert_eq!(
        entries.iter().filter(|e| e["action"] == "reject").count(),
        2
    );
    assert!(entries[0]["subject_name"]
        .as_str()
        .unwrap()
        .starts_with("Jane Roe at gate"));

    // The calibration: both sides, and a threshold between them.
    let c = app
        .ok(
            "watch-lists/calibration",
            &app.user,
            json!({"id": list, "keep": "100%"}),
        )
        .await;
    let (yes, no) = (confidences(&c["confirmed"]), confidences(&c["rejected"]));
    assert_eq!((yes.len(), no.len()), (3, 2), "{c}");
    let proposed = c["proposal"]["threshold"].as_f64().unwrap();
    let lowest_confirmed = yes.iter().copied().fold(1.0, f64::min);
    let highest_rejected = no.iter().copied().fold(0.0, f64::max);
    assert!(
        highest_rejected < proposed && proposed < lowest_confirmed,
        "{c}"
    );
    assert_eq!(c["proposal"]["confirmed_kept"], 3);
    assert_eq!(c["proposal"]["rejected_kept"], 0);
    assert_eq!(c["own_threshold"], false);

    // Only an Administrator applies it.
    let apply = json!({"id": list, "threshold": format!("{proposed:.3}")});
    let refused = app
        .call(
            "watch-lists/apply-threshold",
            Some(&app.operator),
            apply.clone(),
        )
        .await;
    assert_eq!(refused.status, 403);
    app.ok("watch-lists/apply-threshold", &app.admin, apply)
        .await;
    let got = app
        .ok("watch-lists/get", &app.user, json!({"id": list}))
        .await;
    let now = got["confidence_threshold"].as_f64().unwrap();
    assert!((now - proposed).abs() < 1e-3, "{got}");
    // A far match is no longer made at the new threshold.
    let far = post_json(
        &app,
        json!({"camera": "gate", "model": "face-v1", "vectors": [[1.0, 0.35, 0.0, 0.0]]}),
    )
    .await;
    assert_eq!(far.json()["events"][0]["matched"], Value::Null);

    // Withdrawn: it no longer counts.
    assert_eq!(
        judge(&app, &app.operator, rejected[0], "").await.status,
        200
    );
    let c = app
        .ok("watch-lists/calibration", &app.user, json!({"id": list}))
        .await;
    assert_eq!(confidences(&c["rejected"]).len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_verdict_that_cannot_be_given_says_why_and_changes_nothing(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("Wanted").await;
    let dossier = app.dossier("Jane Roe", &[list]).await;
    add_photo(&app, dossier, 1, Some("[1, 0, 0, 0]")).await;
    app.state.monitoring.index.refresh().await.unwrap();
    let id = matched(&app, 0.1).await;
    let stranger = post_json(
        &app,
        json!({"camera": "gate", "model": "face-v1", "vectors": [[0.0, 0.0, 1.0, 0.0]]}),
    )
    .await
    .json()["events"][0]["id"]
        .as_i64()
        .unwrap();
    let before = crate::helpers::snapshot(&app.pool).await;
    let judged = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT count(*) FROM events WHERE verdict_at IS NOT NULL)
                  + (SELECT count(*) FROM audit_log WHERE subject_kind = 'event')",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let bad = judge(&app, &app.operator, id, "maybe").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["field"], "verdict");
    let unmatched = judge(&app, &app.operator, stranger, "rejected").await;
    assert_eq!(unmatched.status, 400);
    assert!(unmatched.json()["message"]
        .as_str()
        .unwrap()
        .contains("matched nobody"));
    assert_eq!(
        judge(&app, &app.operator, id + 1000, "confirmed")
            .await
            .status,
        404
    );
    for keep in ["0", "150%", "x"] {
        let refused = app
            .call(
                "watch-lists/calibration",
                Some(&app.user),
                json!({"id": list, "keep": keep}),
            )
            .await;
        assert_eq!(refused.status, 400, "{keep}");
    }
    for threshold in ["1.5", "-0.1", "NaN", ""] {
        let refused = app
            .call(
                "watch-lists/apply-threshold",
                Some(&app.admin),
                json!({"id": list, "threshold": threshold}),
            )
            .await;
        assert_eq!(refused.status, 400, "{threshold}");
    }
    assert_eq!(
        app.call(
            "watch-lists/calibration",
            Some(&app.user),
            json!({"id": 99999})
        )
        .await
        .status,
        404
    );
    assert_eq!(crate::helpers::snapshot(&app.pool).await, before);
    assert_eq!(judged().await, 0, "no verdict and no entry was written");
}
