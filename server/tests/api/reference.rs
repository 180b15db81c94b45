//! The API reference (`/api-docs`): every route the router serves is in it, every path in it is
//! served, and what it says about a call is what the call takes and answers.

use crate::helpers::TestApp;
use axum::body::Body;
use axum::http::{header, Method, Request};
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Every (method, path) the document lists, and under which tag.
fn operations(doc: &Value) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let tag = operation["tags"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                found.push((method.to_string(), path.clone(), tag));
            }
        }
    }
    found
}

async fn document(app: &TestApp) -> Value {
    let answer = app.get("/api-docs/openapi.json", None).await;
    assert_eq!(answer.status, 200);
    answer.json()
}

#[sqlx::test(migrations = "../migrations")]
async fn every_route_the_router_serves_is_in_the_reference(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let listed: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();

    // The server functions, from the registry the router serves them from.
    let functions: Vec<_> = leptos::server_fn::axum::server_fn_paths().collect();
    assert!(functions.len() > 40, "{} server functions", functions.len());
    for (path, method) in functions {
        let entry = (method.as_str().to_lowercase(), path.to_string());
        assert!(
            listed.contains(&entry),
            "server function {entry:?} is not in the reference"
        );
    }
    // The pages, from the route list the router serves them from.
    for page in leptos_axum::generate_route_list(app::App) {
        let entry = ("get".to_string(), page.path().to_string());
        assert!(
            listed.contains(&entry),
            "page {entry:?} is not in the reference"
        );
    }
    // The REST routes are added to the router only with their reference entries (`routes!`):
    // a plain `.route(` would serve a path the reference does not know.
    let sources = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    for file in rust_files(std::path::Path::new(sources)) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains(".route(") && !text.contains(".nest("),
            "{} adds a route without its API reference entry: use utoipa_axum's routes!",
            file.display()
        );
    }
    // And the REST routes the reference has, as the seed's documents and the README name them.
    for (method, path) in [
        ("post", "/api/events/faces"),
        ("get", "/sync/leader/info"),
        ("get", "/sync/leader/dossier-lists/{id}/changes"),
        ("post", "/sync/dossier-lists/"),
        ("get", "/sync/dossier-lists/"),
        ("delete", "/sync/dossier-lists/{id}/"),
        ("post", "/sync/dossier-lists/{id}/sync/"),
        ("get", "/photos/{sha256}"),
        ("get", "/events/live"),
        ("get", "/healthz"),
        ("get", "/metrics"),
        ("get", "/api-docs"),
    ] {
        assert!(
            listed.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is not in the reference"
        );
    }
}

fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Each path the reference lists is one the router serves with that method: called without
/// credentials, it answers anything but the router's "no such page" or "wrong method".
#[sqlx::test(migrations = "../migrations")]
async fn every_path_in_the_reference_is_served(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let doc = document(&app).await;
    let mut probed = 0;
    for (method, path, tag) in operations(&doc) {
        // Pages come from the router's own route list (checked above); some render for anyone.
        if tag == "pages" || path == "/events/live" {
            continue;
        }
        let concrete = path
            .replace("{sha256}", &"0".repeat(64))
            .replace("{rendition}", "thumbnail")
            .replace("{id}", "1");
        let request = Request::builder()
            .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
            .uri(&concrete)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let answer = app.send(request).await;
        let html = answer
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("text/html"));
        assert!(
            !(answer.status == 404 && html) && answer.status != 405,
            "{method} {concrete} is in the reference but not served: {}",
            answer.status
        );
        probed += 1;
    }
    assert!(probed > 60, "only {probed} routes probed");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_reference_says_what_a_call_takes_and_answers(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let doc = document(&app).await;

    // Every operation says what it does; every reference to a schema resolves.
    for (method, path, tag) in operations(&doc) {
        let operation = &doc["paths"][&path][&method];
        let summary = operation["summary"].as_str().unwrap_or_default();
        assert!(summary.len() > 10, "{method} {path} ({tag}) has no summary");
        assert!(
            operation["responses"]["4XX"].is_object(),
            "{method} {path}: no error answer"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50);
    for target in refs {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or(&target);
        assert!(schemas.contains_key(name), "{target} does not resolve");
    }

    // The auth schemes and the one error format.
    let security = &doc["components"]["securitySchemes"];
    assert_eq!(security["session"]["in"], "cookie");
    assert_eq!(security["token"]["name"], "Authorization");
    assert_eq!(security["sync_token"]["scheme"], "bearer");
    assert_eq!(
        doc["paths"]["/api/auth/login"]["post"]["security"],
        Value::Null
    );
    assert!(doc["paths"]["/sync/leader/info"]["get"]["security"][0]["sync_token"].is_array());
    let error = serde_json::to_string(&schemas["Error"]).unwrap();
    for kind in ["invalid", "not_found", "too_many_requests", "unavailable"] {
        assert!(
            error.contains(kind),
            "the error schema lacks {kind}: {error}"
        );
    }

    // A server function's arguments and answer are its Rust types'.
    let create = &doc["paths"]["/api/dossiers/create"]["post"];
    let arguments = &create["requestBody"]["content"]["application/json"]["schema"]["properties"];
    for field in ["name", "comment", "active", "meta", "watch_lists"] {
        assert!(
            arguments[field].is_object(),
            "dossiers/create lacks {field}: {arguments}"
        );
    }
    assert_eq!(arguments["watch_lists"]["type"], "array");
    // Required is what the call refuses to go without: the name, not the comment.
    let required = &create["requestBody"]["content"]["application/json"]["schema"]["required"];
    assert_eq!(required, &serde_json::json!(["name"]), "{required}");
    let refused = app
        .call(
            "dossiers/create",
            Some(&app.admin),
            serde_json::json!({"comment": "x"}),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(String::from_utf8_lossy(&refused.body).contains("name"));
    let answer = &create["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(answer["properties"]["photos"].is_object(), "{answer}");
    // Such an answer is what the call returns.
    let list = app.watch_list("Wanted").await;
    let created = app
        .ok(
            "dossiers/create",
            &app.admin,
            serde_json::json!({"name": "Ann", "watch_lists": [list]}),
        )
        .await;
    for field in answer["required"].as_array().unwrap() {
        let field = field.as_str().unwrap();
        assert!(
            created.get(field).is_some(),
            "the answer lacks {field}: {created}"
        );
    }
    // The replication routes' bodies, with the seed's field names.
    let replica = &doc["paths"]["/sync/dossier-lists/"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    let replica = resolve(&doc, replica);
    for field in ["remote_dossier_list", "remote_url", "slave_dossier_list"] {
        assert!(replica["properties"][field].is_object(), "{replica}");
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(target) => {
            let name = target.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => refs.push(target.clone()),
                    _ => collect_refs(inner, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, refs)),
        _ => {}
    }
}

/// The page people read lists every endpoint, escapes what it shows, and asks for JSON gets
/// the document.
#[sqlx::test(migrations = "../migrations")]
async fn the_reference_page_lists_every_endpoint(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let doc = document(&app).await;
    let page = app.get("/api-docs", None).await;
    assert_eq!(page.status, 200);
    assert!(page.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = String::from_utf8(page.body).unwrap();
    for (method, path, _) in operations(&doc) {
        let shown = format!("{} {}", method.to_uppercase(), path);
        assert!(html.contains(&shown), "the page does not show {shown}");
    }
    assert!(
        html.contains("Authorization: Token &lt;token&gt;"),
        "escaped text"
    );
    assert!(!html.contains("<script"), "the page needs no script");
    // Its Markdown is rendered, not shown raw.
    assert!(!html.contains('`'), "raw Markdown on the page");
    assert!(html.contains("<code>SYNC_TOKEN"));
    // A body given by reference lists its fields (a camera's post), and the page leads back.
    let faces = &html[html.find("POST /api/events/faces").unwrap()..];
    let faces = &faces[..faces.find("</article>").unwrap()];
    for field in ["camera", "captured_at", "image", "vectors"] {
        assert!(
            faces.contains(&format!("<code>{field}<")),
            "events/faces lacks {field}"
        );
    }
    assert!(html.contains(r#"href="/""#) && html.contains("Back to the app"));

    let asked_for_json = app
        .send(
            Request::get("/api-docs")
                .header(header::ACCEPT, "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(asked_for_json.json(), doc);
}
