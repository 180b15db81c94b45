//! The doors an attacker tries first: password guessing (throttled per account and address),
//! control characters in any field, sessions shared between installations, the headers that
//! keep pages from being framed or fed foreign scripts.

use crate::helpers::{settings, snapshot, TestApp};
use axum::body::Body;
use axum::http::{header, Request};
use serde_json::{json, Value};

fn login_request(username: &str, password: &str) -> Request<Body> {
    Request::post("/api/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(
            json!({"username": username, "password": password}).to_string(),
        ))
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn guessing_a_password_is_slowed_then_refused_with_retry_after(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..40 {
        let answer = app
            .send_from("192.0.2.10", login_request("admin", "guess-guess"))
            .await;
        statuses.push(answer.status.as_u16());
        if answer.status == 429 {
            refused.get_or_insert(answer);
        }
    }
    // Five tries, a sixth that locks the account, then nothing but 429.
    assert_eq!(statuses[..6], [401; 6], "{statuses:?}");
    assert!(statuses[6..].iter().all(|s| *s == 429), "{statuses:?}");
    // Slowed: the third failure on waits, 0.25 + 0.5 + 1 + 2 s at least.
    assert!(started.elapsed() >= std::time::Duration::from_millis(3750));
    let refused = refused.unwrap();
    let retry_after: u64 = refused.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((60..=900).contains(&retry_after), "{retry_after}");
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("try again in") && message.contains("account"),
        "{message}"
    );
    // Even the right password waits for the lock to end.
    let right = app
        .send_from("192.0.2.11", login_request("admin", "password123"))
        .await;
    assert_eq!(right.status, 429);

    // The Administrator sees the lock and clears it; the account logs in again.
    let locks = app.ok("users/login-locks", &app.admin, json!({})).await;
    let account = locks
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["subject"] == json!({"kind": "account", "key": "admin"}))
        .expect("the account's lock is listed")
        .clone();
    assert!(account["locked_until"].is_string() && account["failures"] == 6);
    let address = json!({"kind": "address", "key": "192.0.2.10"});
    assert!(locks
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["subject"] == address));
    app.ok(
        "users/clear-login-lock",
        &app.admin,
        json!({"kind": "account", "key": "admin"}),
    )
    .await;
    let again = app
        .send_from("192.0.2.11", login_request("admin", "password123"))
        .await;
    assert_eq!(again.status, 200);
    // Only an Administrator may see or clear locks.
    let not_admin = app
        .call("users/login-locks", Some(&app.operator), json!({}))
        .await;
    assert_eq!(not_admin.status, 403);
}

#[sqlx::test(migrations = "../migrations")]
async fn one_address_guessing_many_accounts_is_locked_out(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let mut last = None;
    for i in 0..21 {
        let name = format!("guess{i}");
        last = Some(
            app.send_from("198.51.100.7", login_request(&name, "x-x-x-x-x"))
                .await,
        );
    }
    assert_eq!(last.unwrap().status, 401);
    let locked = app
        .send_from("198.51.100.7", login_request("operator", "password123"))
        .await;
    assert_eq!(locked.status, 429);
    assert!(locked.json()["message"]
        .as_str()
        .unwrap()
        .contains("address"));
    // Another address is not concerned.
    let elsewhere = app
        .send_from("198.51.100.8", login_request("operator", "password123"))
        .await;
    assert_eq!(elsewhere.status, 200);
}

/// Every text a user can send, with a NUL in it, to the server function that takes it.
fn with_nul(list: i64, dossier: i64) -> Vec<(&'static str, Value)> {
    let nul = "bad\u{0}text";
    vec![
        ("watch-lists/create", json!({"name": nul})),
        ("watch-lists/create", json!({"name": "ok", "comment": nul})),
        ("watch-lists/create", json!({"name": "ok", "color": nul})),
        ("watch-lists/update", json!({"id": list, "name": nul})),
        ("watch-lists/rename", json!({"id": list, "name": nul})),
        (
            "dossiers/create",
            json!({"name": nul, "watch_lists": [list]}),
        ),
        (
            "dossiers/create",
            json!({"name": "ok", "meta": {"case": nul}, "watch_lists": [list]}),
        ),
        (
            "dossiers/create",
            json!({"name": "ok", "meta": {"k\u{0}": 1}, "watch_lists": [list]}),
        ),
        (
            "dossiers/update",
            json!({"id": dossier, "name": "ok", "comment": nul, "watch_lists": [list]}),
        ),
        ("dossiers/search", json!({"q": nul})),
        (
            "users/create",
            json!({"username": nul, "password": "password123", "group": "User"}),
        ),
        (
            "users/create",
            json!({"username": "newbie", "password": "password123", "group": nul}),
        ),
        ("users/set-group", json!({"id": 2, "group": nul})),
        (
            "auth/login",
            json!({"username": nul, "password": "password123"}),
        ),
        (
            "replication/create",
            json!({"remote_url": format!("http://{nul}"), "remote_dossier_list": 1, "slave_dossier_list": list}),
        ),
        ("replication/leader-lists", json!({"remote_url": nul})),
        ("audit/entries", json!({"actor": nul})),
    ]
}

#[sqlx::test(migrations = "../migrations")]
async fn a_nul_in_any_field_is_a_4xx_naming_it_and_changes_nothing(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("L").await;
    let dossier = app.dossier("D", &[list]).await;
    let before = snapshot(&app.pool).await;
    for (endpoint, body) in with_nul(list, dossier) {
        let answer = app.call(endpoint, Some(&app.admin), body.clone()).await;
        assert_eq!(answer.status, 400, "{endpoint} {body}");
        let error = answer.json();
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("control characters"),
            "{endpoint}: {error}"
        );
        assert!(error["field"].is_string(), "{endpoint}: {error}");
    }
    assert_eq!(snapshot(&app.pool).await, before);
    // A line break is fine in a comment, not in a name.
    let comment = app
        .call(
            "watch-lists/create",
            Some(&app.admin),
            json!({"name": "Two", "comment": "line one\nline two\ttabbed"}),
        )
        .await;
    assert_eq!(comment.status, 200);
    let name = app
        .call(
            "watch-lists/create",
            Some(&app.admin),
            json!({"name": "Two\nlines"}),
        )
        .await;
    assert_eq!(name.status, 400);
    assert_eq!(name.json()["field"], "name");
}

async fn cookie_of(app: &TestApp, username: &str) -> String {
    let answer = app.send(login_request(username, "password123")).await;
    assert_eq!(answer.status, 200);
    answer.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn me(cookie: &str) -> Request<Body> {
    Request::post("/api/auth/me")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn two_installations_on_one_host_keep_their_own_sessions(pool: sqlx::PgPool) {
    // Two installations (their settings differ by address), one browser's cookie jar.
    let server = |port: u16| {
        let mut s = server::settings::Settings::from_values(
            &[
                ("DATABASE_URL", "postgres://x@127.0.0.1/x".to_string()),
                ("EXTERNAL_ADDRESS", format!("http://127.0.0.1:{port}")),
            ]
            .into_iter()
            .collect(),
        )
        .unwrap();
        s.engine.sync = settings().engine.sync;
        s
    };
    let leader = TestApp::with_settings(pool.clone(), server(3000)).await;
    let subscriber = TestApp::attach(pool, &leader);
    let subscriber = TestApp {
        state: crate::helpers::app_state(
            subscriber.pool.clone(),
            &server(3100),
            None,
            subscriber.state.leptos_options.clone(),
        ),
        ..subscriber
    };
    let subscriber = TestApp {
        router: server::router(subscriber.state.clone()),
        ..subscriber
    };
    let on_leader = cookie_of(&leader, "admin").await;
    let on_subscriber = cookie_of(&subscriber, "operator").await;
    assert_ne!(
        on_leader.split('=').next(),
        on_subscriber.split('=').next(),
        "the cookies must have different names"
    );
    // The browser sends both cookies to both (cookies ignore ports); each reads its own.
    let jar = format!("{on_leader}; {on_subscriber}");
    assert_eq!(leader.send(me(&jar)).await.json()["username"], "admin");
    assert_eq!(
        subscriber.send(me(&jar)).await.json()["username"],
        "operator"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn logging_out_everywhere_ends_every_session_and_idle_ones_end(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let first = cookie_of(&app, "operator").await;
    let second = cookie_of(&app, "operator").await;
    let other = cookie_of(&app, "viewer").await;
    let ended = app
        .send(
            Request::post("/api/auth/logout-everywhere")
                .header(header::COOKIE, &first)
                .header(header::ACCEPT, "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(ended.status, 200);
    assert_eq!(ended.json(), json!(2));
    assert_eq!(app.send(me(&second)).await.json(), Value::Null);
    assert_eq!(app.send(me(&other)).await.json()["username"], "viewer");
    // An administrator ends another user's sessions; others may not.
    let viewer_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'viewer'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let refused = app
        .call(
            "auth/logout-everywhere",
            Some(&app.operator),
            json!({"id": viewer_id}),
        )
        .await;
    assert_eq!(refused.status, 403);
    app.ok(
        "auth/logout-everywhere",
        &app.admin,
        json!({"id": viewer_id}),
    )
    .await;
    assert_eq!(app.send(me(&other)).await.json(), Value::Null);

    // A session unused for longer than the idle timeout no longer works, and is pruned.
    let idle = cookie_of(&app, "viewer").await;
    sqlx::query("UPDATE sessions SET last_seen_at = now() - interval '9 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.send(me(&idle)).await.json(), Value::Null);
    app.state.tidy().await;
    assert_eq!(app.count("sessions").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_carry_a_policy_their_islands_work_under(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let page = app.get("/login", None).await;
    assert_eq!(page.status, 200);
    let policy = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(policy.contains("'wasm-unsafe-eval'"), "{policy}");
    // Every inline script of the page carries the policy's nonce.
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the policy names a nonce");
    let html = String::from_utf8_lossy(&page.body).to_string();
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty());
    for script in scripts {
        let tag = script.split('>').next().unwrap();
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")) || tag.contains("src="),
            "script without the nonce: <script{tag}>"
        );
    }
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(page.headers[header::REFERRER_POLICY], "same-origin");
    let api = app.call("auth/me", None, json!({})).await;
    assert_eq!(
        api.headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn behind_a_trusted_proxy_the_forwarded_client_is_the_address(pool: sqlx::PgPool) {
    let mut behind_proxy = settings();
    behind_proxy.server.trusted_proxies = vec!["10.0.0.1".parse().unwrap()];
    let app = TestApp::with_settings(pool, behind_proxy).await;
    let via = |client: &str| {
        let mut request = login_request("viewer", "wrong-password");
        request.headers_mut().insert(
            "x-forwarded-for",
            format!("6.6.6.6, {client}").parse().unwrap(),
        );
        request
    };
    app.send_from("10.0.0.1", via("192.0.2.44")).await;
    // Not a trusted proxy: its header is the client's own invention and is ignored.
    app.send_from("10.0.0.2", via("192.0.2.45")).await;
    let failed = app
        .ok(
            "audit/entries",
            &app.admin,
            json!({"action": "login_failed"}),
        )
        .await;
    let addresses: Vec<&str> = failed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["10.0.0.2", "192.0.2.44"]);
}
