//! Who may do what: logins, sessions, tokens, roles, user administration, cross-site forms.

use crate::helpers::TestApp;
use axum::body::Body;
use axum::http::{header, Request};
use serde_json::json;

#[sqlx::test(migrations = "../migrations")]
async fn a_user_reads_everything_and_changes_nothing(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let list = app.watch_list("L").await;
    let dossier = app.dossier("D", &[list]).await;
    for (endpoint, body) in [
        ("watch-lists/list", json!({})),
        ("watch-lists/labels", json!({})),
        ("watch-lists/get", json!({"id": list})),
        ("dossiers/search", json!({})),
        ("dossiers/get", json!({"id": dossier})),
    ] {
        assert_eq!(
            app.call(endpoint, Some(&app.user), body).await.status,
            200,
            "{endpoint}"
        );
    }
    for (endpoint, body) in [
        ("watch-lists/create", json!({"name": "X"})),
        ("watch-lists/update", json!({"id": list, "name": "X"})),
        ("watch-lists/delete", json!({"id": list})),
        (
            "dossiers/create",
            json!({"name": "X", "watch_lists": [list]}),
        ),
        (
            "dossiers/update",
            json!({"id": dossier, "name": "X", "watch_lists": [list]}),
        ),
        ("dossiers/delete", json!({"id": dossier})),
        ("photos/delete", json!({"id": 1})),
        ("users/list", json!({})),
    ] {
        let answer = app.call(endpoint, Some(&app.user), body).await;
        assert_eq!(answer.status, 403, "{endpoint}");
        assert!(answer.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("your group (User) may not"));
    }
    assert_eq!(app.count("watch_lists").await, 1);
    assert_eq!(app.count("dossiers").await, 1);
    let unchanged = app
        .ok("dossiers/get", &app.user, json!({"id": dossier}))
        .await;
    assert_eq!(unchanged["name"], "D");
}

#[sqlx::test(migrations = "../migrations")]
async fn missing_or_wrong_credentials_get_401(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    assert_eq!(
        app.call("watch-lists/list", None, json!({})).await.status,
        401
    );
    assert_eq!(
        app.call("watch-lists/list", Some("not-a-token"), json!({}))
            .await
            .status,
        401
    );
    let me = app.call("auth/me", None, json!({})).await;
    assert_eq!(me.status, 200);
    assert!(me.json().is_null());
}

#[sqlx::test(migrations = "../migrations")]
async fn an_operator_edits_but_does_not_manage_users(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    app.watch_list("Mine").await;
    let answer = app
        .call(
            "users/create",
            Some(&app.operator),
            json!({"username": "x", "password": "password123", "group": "User"}),
        )
        .await;
    assert_eq!(answer.status, 403);
    assert_eq!(app.count("users").await, 4);
}

async fn login(app: &TestApp, username: &str, password: &str) -> Option<String> {
    let answer = app
        .call(
            "auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await;
    if !answer.status.is_success() {
        assert_eq!(answer.status, 401);
        return None;
    }
    let cookie = answer.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    Some(cookie.split(';').next().unwrap().to_string())
}

fn with_cookie(path: &str, cookie: &str, body: serde_json::Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn sessions_start_with_the_right_password_and_end_at_logout(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    assert!(login(&app, "operator", "wrong-password").await.is_none());
    assert!(login(&app, "nobody", "password123").await.is_none());
    let cookie = login(&app, "operator", "password123").await.unwrap();

    let me = app
        .send(with_cookie("/api/auth/me", &cookie, json!({})))
        .await
        .json();
    assert_eq!(me["username"], "operator");
    assert_eq!(me["group"], "Operator");
    let created = app
        .send(with_cookie(
            "/api/watch-lists/create",
            &cookie,
            json!({"name": "By cookie"}),
        ))
        .await;
    assert_eq!(created.status, 200);

    app.send(with_cookie("/api/auth/logout", &cookie, json!({})))
        .await;
    let after = app
        .send(with_cookie("/api/watch-lists/list", &cookie, json!({})))
        .await;
    assert_eq!(after.status, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn forms_posted_from_another_site_are_refused(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let cookie = login(&app, "operator", "password123").await.unwrap();
    let mut request = with_cookie("/api/watch-lists/create", &cookie, json!({"name": "CSRF"}));
    request
        .headers_mut()
        .insert(header::ORIGIN, "http://evil.example".parse().unwrap());
    request
        .headers_mut()
        .insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
    assert_eq!(app.send(request).await.status, 403);
    assert_eq!(app.count("watch_lists").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_administrator_manages_users(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let created = app
        .ok(
            "users/create",
            &app.admin,
            json!({"username": "guard", "password": "password123", "group": "User"}),
        )
        .await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["group"], "User");
    for (body, field) in [
        (
            json!({"username": "guard", "password": "password123", "group": "User"}),
            "username",
        ),
        (
            json!({"username": "a b", "password": "password123", "group": "User"}),
            "username",
        ),
        (
            json!({"username": "short", "password": "123", "group": "User"}),
            "password",
        ),
        (
            json!({"username": "g2", "password": "password123", "group": "Gods"}),
            "group",
        ),
    ] {
        let answer = app
            .call("users/create", Some(&app.admin), body.clone())
            .await;
        assert!(answer.status.is_client_error(), "{body}");
        assert_eq!(answer.json()["field"], field, "{body}");
    }

    let promoted = app
        .ok(
            "users/set-group",
            &app.admin,
            json!({"id": id, "group": "Operator"}),
        )
        .await;
    assert_eq!(promoted["group"], "Operator");
    let token = app
        .ok("users/issue-token", &app.admin, json!({"id": id}))
        .await;
    let token = token.as_str().unwrap().to_string();
    assert_eq!(
        app.call(
            "watch-lists/create",
            Some(&token),
            json!({"name": "Guard's"})
        )
        .await
        .status,
        200
    );

    let deactivated = app
        .ok(
            "users/set-active",
            &app.admin,
            json!({"id": id, "active": false}),
        )
        .await;
    assert_eq!(deactivated["active"], false);
    assert_eq!(
        app.call("watch-lists/list", Some(&token), json!({}))
            .await
            .status,
        401
    );
    assert!(login(&app, "guard", "password123").await.is_none());

    let admin_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let myself = app
        .call(
            "users/set-active",
            Some(&app.admin),
            json!({"id": admin_id, "active": false}),
        )
        .await;
    assert_eq!(myself.status, 400);
    assert_eq!(
        app.call("users/list", Some(&app.admin), json!({}))
            .await
            .status,
        200
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_site_says_its_name_to_all_and_its_replicas_to_users(pool: sqlx::PgPool) {
    let mut named = crate::helpers::settings();
    named.engine.site_name = "Regional office".into();
    let app = TestApp::with_settings(pool, named).await;
    let stranger = app.call("site", None, json!({})).await.json();
    assert_eq!(
        stranger,
        json!({"name": "Regional office", "replicas": null, "role": null})
    );
    let user = app.ok("site", &app.user, json!({})).await;
    assert_eq!(user["replicas"], 0);
    // Replication is on (the tests' sync token) and it holds no replica: it is a Leader.
    assert_eq!(user["role"], "leader");
    // The login page names the installation before anyone logs in.
    let login = app.get("/login", None).await;
    assert!(String::from_utf8_lossy(&login.body).contains("Regional office"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_browser_form_gets_what_was_typed_back_but_no_password(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let request = Request::post("/api/users/create")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, "http://127.0.0.1:3000/users")
        .header(header::AUTHORIZATION, format!("Token {}", app.admin))
        .body(Body::from(
            "username=night+guard&password=secret-secret&group=Gods",
        ))
        .unwrap();
    let answer = app.send(request).await;
    assert!(answer.status.is_redirection(), "{}", answer.status);
    let location = answer.headers[header::LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:3000/users?"),
        "{location}"
    );
    let query: Vec<(String, String)> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let typed = &query.iter().find(|(k, _)| k == "__typed").unwrap().1;
    assert!(
        typed.contains("username=night+guard") && typed.contains("group=Gods"),
        "{typed}"
    );
    assert!(!location.contains("secret-secret"), "{location}");
    assert!(query.iter().any(|(k, _)| k == "__err"));
    assert_eq!(app.count("users").await, 4);
}
