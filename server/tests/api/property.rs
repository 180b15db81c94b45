//! Random input for every server function: random Unicode (control characters included),
//! huge and negative numbers, floats, nested JSON, missing and unknown fields, as JSON or as a
//! browser's form (photo uploads as multipart). Whatever arrives, the answer is never a 5xx, and an answer that refuses the
//! request leaves the database as it was.

use crate::helpers::{drop_database, fresh_database, multipart_request, snapshot, TestApp};
use axum::body::Body;
use axum::http::{header, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};

const WATCH_LIST: &[&str] = &[
    "name",
    "comment",
    "color",
    "active",
    "acknowledge",
    "notify",
    "confidence_threshold",
];
const DOSSIER: &[&str] = &["name", "comment", "active", "meta", "watch_lists"];

/// Every server function with the arguments it reads besides `id`, which every request gets.
const ENDPOINTS: &[(&str, &[&str])] = &[
    (
        "audit/entries",
        &[
            "actor",
            "action",
            "subject_kind",
            "subject_id",
            "before",
            "limit",
        ],
    ),
    ("auth/login", &["username", "password"]),
    ("auth/logout", &[]),
    ("auth/logout-everywhere", &[]),
    ("auth/me", &[]),
    ("dossiers/create", DOSSIER),
    ("dossiers/delete", &[]),
    ("dossiers/deletable", &[]),
    ("dossiers/get", &[]),
    ("dossiers/verdicts", &[]),
    (
        "dossiers/search",
        &["q", "watch_list", "active", "after", "limit"],
    ),
    ("dossiers/update", DOSSIER),
    ("photos/delete", &[]),
    ("photos/upload", &["dossier_id", "image", "vector", "model"]),
    ("imports/upload", &["file", "create_lists", "list"]),
    ("imports/list", &["refused"]),
    ("imports/get", &[]),
    ("imports/refusals", &[]),
    (
        "faces/search",
        &["image", "watch_list", "min_confidence", "matches"],
    ),
    ("faces/searched", &[]),
    (
        "events/list",
        &[
            "camera",
            "watch_list",
            "matched",
            "acknowledged",
            "from",
            "to",
            "before",
        ],
    ),
    ("events/acknowledge", &["back"]),
    ("events/judge", &["verdict", "back"]),
    (
        "events/similar",
        &[
            "event",
            "face",
            "camera",
            "site",
            "from",
            "to",
            "min_confidence",
            "limit",
        ],
    ),
    (
        "events/similar-to-photo",
        &[
            "image",
            "camera",
            "site",
            "from",
            "to",
            "min_confidence",
            "limit",
        ],
    ),
    (
        "events/acknowledge-all",
        &["camera", "watch_list", "matched", "from", "to", "back"],
    ),
    ("webhooks/list", &[]),
    (
        "webhooks/create",
        &[
            "url",
            "secret",
            "watch_lists",
            "cameras",
            "min_confidence",
            "unknown_cameras",
        ],
    ),
    ("webhooks/delete", &[]),
    ("cameras/list", &[]),
    ("cameras/status", &[]),
    (
        "cameras/create",
        &[
            "name",
            "url",
            "enabled",
            "fps",
            "min_face",
            "min_quality",
            "region",
        ],
    ),
    (
        "cameras/update",
        &[
            "name",
            "url",
            "enabled",
            "fps",
            "min_face",
            "min_quality",
            "region",
        ],
    ),
    ("cameras/delete", &[]),
    ("replication/cancel", &[]),
    ("replication/confirm", &[]),
    (
        "replication/create",
        &["remote_url", "remote_dossier_list", "slave_dossier_list"],
    ),
    ("replication/leader-lists", &["remote_url"]),
    ("replication/overview", &[]),
    ("replication/progress", &[]),
    ("replication/reject", &[]),
    ("replication/sync-now", &[]),
    ("site", &[]),
    ("sites/backlog", &[]),
    ("sites/labels", &[]),
    ("sites/list", &[]),
    ("users/clear-login-lock", &["kind", "key"]),
    ("users/create", &["username", "password", "group"]),
    ("users/issue-token", &[]),
    ("users/list", &[]),
    ("users/login-locks", &[]),
    ("users/set-active", &["active"]),
    ("users/set-group", &["group"]),
    ("watch-lists/create", WATCH_LIST),
    ("watch-lists/delete", &[]),
    ("watch-lists/exclusive-dossiers", &[]),
    ("watch-lists/get", &[]),
    ("watch-lists/labels", &[]),
    ("watch-lists/list", &[]),
    ("watch-lists/rename", &["name"]),
    ("watch-lists/update", WATCH_LIST),
    ("watch-lists/calibration", &["keep"]),
    ("watch-lists/apply-threshold", &["threshold"]),
];

/// What an argument is meant to be; each is sent as something plausible of its kind most of the
/// time (so that the checks past the first are reached) and as anything at all otherwise.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Text,
    Id,
    Ids,
    Flag,
    Number,
    Meta,
    Choice(&'static [&'static str]),
}

const GROUPS: Kind = Kind::Choice(&[
    "Administrator",
    "Operator",
    "User",
    "Camera",
    "Video worker",
]);

fn kind_of(name: &str) -> Kind {
    match name {
        "id"
        | "watch_list"
        | "after"
        | "before"
        | "limit"
        | "remote_dossier_list"
        | "slave_dossier_list" => Kind::Id,
        "watch_lists" => Kind::Ids,
        "active" | "acknowledge" | "notify" | "enabled" => Kind::Flag,
        "confidence_threshold" => Kind::Number,
        "meta" => Kind::Meta,
        "group" => GROUPS,
        "kind" => Kind::Choice(&["account", "address"]),
        "subject_kind" => Kind::Choice(&["dossier", "watch_list", "user", ""]),
        "color" => Kind::Choice(&["#1f77b4", "ABCDEF", ""]),
        "dossier_id" => Kind::Choice(&["1", "2", "-1", "99999999999999999999"]),
        "image" => Kind::Choice(&[PORTRAIT, "not an image", ""]),
        "vector" => Kind::Choice(&["[0.1, 0.2, 0.3, 0.4]", "[1, 2]", "[1e39, 0, 0, 0]", "NaN"]),
        "model" => Kind::Choice(&["face-v1", "other-model", ""]),
        "remote_url" => Kind::Choice(&["http://127.0.0.1:9", "https://[::1]:9/x"]),
        "matched" => Kind::Choice(&["yes", "no", "maybe", ""]),
        "acknowledged" => Kind::Choice(&["awaiting", "done", "x", ""]),
        "from" | "to" => Kind::Choice(&["2026-11-24T08:00", "2026-11-24T08:00:00Z", "soon", ""]),
        "back" => Kind::Choice(&["/events?camera=a", "//evil.example", "https://evil.example"]),
        "url" => Kind::Choice(&["http://127.0.0.1:9/hook", "ftp://x", "", "rtsp://a:b@cam/x"]),
        "fps" | "min_face" | "min_quality" => {
            Kind::Choice(&["5", "0", "80", "0.3", "NaN", "1e9", ""])
        }
        "region" => Kind::Choice(&["0,0,1,1", "0.5,0,0.9,1", "a,b", ""]),
        "min_confidence" => Kind::Choice(&["0.5", "2", "-1", "NaN", ""]),
        _ => Kind::Text,
    }
}

/// Text as people and attackers type it: any Unicode, control characters, long runs.
fn text() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f} a-zA-Z]{0,12}",
        "[a-zA-Z ]{1,10}",
        Just("x".repeat(5000)),
    ]
    .prop_map(Value::from)
    .boxed()
}

fn plausible(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Text => text(),
        Kind::Id => prop_oneof![
            (0i64..6).prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
        ]
        .boxed(),
        Kind::Ids => prop::collection::vec(0i64..6, 0..4)
            .prop_map(|ids| json!(ids))
            .boxed(),
        Kind::Flag => any::<bool>().prop_map(Value::from).boxed(),
        Kind::Number => prop_oneof![
            any::<f64>().prop_map(|f| json!(f.to_string())),
            (0.0f64..1.0).prop_map(|f| json!(f.to_string())),
        ]
        .boxed(),
        Kind::Meta => prop::collection::btree_map(any::<String>(), text(), 0..3)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
            .boxed(),
        Kind::Choice(values) => prop::sample::select(values).prop_map(Value::from).boxed(),
    }
}

/// Anything at all: huge and negative numbers, floats, nested arrays and objects.
fn anything() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text(),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!("99999999999999999999999999")),
        Just(json!("1e309")),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn argument(name: &str) -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(
        0.9,
        prop_oneof![6 => plausible(kind_of(name)), 1 => anything()],
    )
}

/// A request: which function, its arguments (some left out, some unknown added), and whether it
/// travels as JSON or as a browser's form.
type Case = (usize, Vec<Option<Value>>, Option<(String, Value)>, bool);

fn request() -> impl Strategy<Value = Case> {
    (0..ENDPOINTS.len()).prop_flat_map(|i| {
        let arguments: Vec<_> = std::iter::once(&"id")
            .chain(ENDPOINTS[i].1)
            .map(|name| argument(name))
            .collect();
        (
            Just(i),
            arguments,
            prop::option::weighted(0.1, (any::<String>(), anything())),
            any::<bool>(),
        )
    })
}

/// Stands for a real photo among an upload's random values.
const PORTRAIT: &str = "<portrait>";

/// An upload's fields as multipart: strings as text, anything else as its JSON.
/// A multipart form for the server functions that take files.
fn encode_multipart(
    endpoint: &str,
    names: &[&str],
    values: &[Option<Value>],
    token: &str,
) -> Request<Body> {
    let fields: Vec<(&str, Vec<u8>)> = std::iter::once(&"id")
        .chain(names)
        .zip(values)
        .filter_map(|(name, value)| {
            let bytes = match value.as_ref()? {
                Value::String(s) if s == PORTRAIT => engine::demo::portrait(7),
                Value::String(s) => s.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            };
            Some((*name, bytes))
        })
        .collect();
    let fields: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    multipart_request(&format!("/api/{endpoint}"), token, &fields)
}

fn encode(
    endpoint: &str,
    names: &[&str],
    values: &[Option<Value>],
    extra: &Option<(String, Value)>,
    as_json: bool,
    token: &str,
) -> Request<Body> {
    if matches!(
        endpoint,
        "photos/upload" | "faces/search" | "events/similar-to-photo" | "imports/upload"
    ) {
        return encode_multipart(endpoint, names, values, token);
    }
    let mut args = Map::new();
    for (name, value) in std::iter::once(&"id").chain(names).zip(values) {
        if let Some(value) = value {
            args.insert(name.to_string(), value.clone());
        }
    }
    if let Some((name, value)) = extra {
        args.insert(name.clone(), value.clone());
    }
    let (content_type, body) = if as_json {
        ("application/json", Value::Object(args).to_string())
    } else {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &args {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            form.append_pair(name, &text);
        }
        ("application/x-www-form-urlencoded", form.finish())
    };
    Request::post(format!("/api/{endpoint}"))
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT, "application/json")
        .header(header::AUTHORIZATION, format!("Token {token}"))
        .body(Body::from(body))
        .unwrap()
}

#[test]
fn random_input_to_any_server_function_is_never_a_5xx_and_a_refusal_changes_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (base, app, db) = runtime.block_on(async {
        let url = std::env::var("DATABASE_URL").expect("DATABASE_URL names the test server");
        let base = sqlx::PgPool::connect(&url).await.unwrap();
        let (pool, db) = fresh_database(&base).await;
        let app = TestApp::new(pool).await;
        let list = app.watch_list("Wanted").await;
        for name in ["Ann", "Bob"] {
            app.dossier(name, &[list]).await;
        }
        (base, app, db)
    });
    let covered = coverage();
    assert!(
        covered.is_empty(),
        "server functions without random input: {covered:?}"
    );

    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    let before = std::cell::RefCell::new(runtime.block_on(snapshot(&app.pool)));
    let result = runner.run(&request(), |(i, values, extra, as_json): Case| {
        let (endpoint, names) = ENDPOINTS[i];
        let request = encode(endpoint, names, &values, &extra, as_json, &app.admin);
        let answer = runtime.block_on(app.send(request));
        let body = String::from_utf8_lossy(&answer.body).to_string();
        prop_assert!(
            answer.status.as_u16() < 500,
            "{endpoint}: {} {body}",
            answer.status
        );
        let after = runtime.block_on(snapshot(&app.pool));
        if answer.status.is_client_error() {
            let before = before.borrow();
            prop_assert_eq!(
                &after,
                &*before,
                "{} refused ({}) but changed the database",
                endpoint,
                body
            );
        }
        before.replace(after);
        Ok(())
    });
    runtime.block_on(drop_database(&base, app.pool.clone(), &db));
    result.unwrap();
}

/// The registered server functions the table above leaves out.
fn coverage() -> Vec<String> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_string())
        .filter(|path| !ENDPOINTS.iter().any(|(e, _)| e == path))
        .collect()
}
