//! Test harness: the whole server (router, middleware, server functions) on a fresh database
//! per test, called in-process through its HTTP interface.

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use server::settings::Settings;
use sqlx::PgPool;
use tower::ServiceExt;

pub struct TestApp {
    pub pool: PgPool,
    pub state: app::state::AppState,
    pub router: Router,
    pub admin: String,
    pub operator: String,
    pub user: String,
    /// A camera's token (group Camera: it may post events and nothing else).
    pub camera: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Who the tests' direct calls into the domain are recorded as.
pub fn test_actor() -> domain::audit::Actor {
    domain::audit::Actor {
        id: None,
        name: "test".into(),
        address: None,
    }
}

pub const SYNC_TOKEN: &str = "test-sync-token-0123456789";

/// The settings of a test installation, as an operator would write them: a model of 4 floats
/// (vectors made by hand), a small upload limit, the tests' sync token; and pages of 250
/// dossiers, so that the tests can stop runs between pages.
pub fn settings() -> Settings {
    let mut settings = Settings::from_values(
        &[
            (
                "DATABASE_URL",
                "postgres://tests@127.0.0.1/tests".to_string(),
            ),
            ("FACE_MODEL", "face-v1".into()),
            ("FACE_VECTOR_LENGTH", "4".into()),
            ("UPLOAD_LIMIT", "256KB".into()),
            ("SYNC_TOKEN", SYNC_TOKEN.into()),
        ]
        .into_iter()
        .collect(),
    )
    .expect("the tests' settings are valid");
    settings.engine.sync.page_size = 250;
    // The face index is not saved by in-process installations (a test's database is new).
    settings.engine.monitoring.index_dir = None;
    // Uploaded imports wait in a folder of the test's own.
    settings.engine.imports.dir =
        std::env::temp_dir().join(format!("dossier-imports-{:016x}", rand_u64()));
    settings
}

impl TestApp {
    /// A migrated database (from `#[sqlx::test]`) with the groups and one user of each.
    pub async fn new(pool: PgPool) -> Self {
        Self::with_settings(pool, settings()).await
    }

    pub async fn with_settings(pool: PgPool, settings: Settings) -> Self {
        Self::build(pool, settings, None).await
    }

    /// An installation with the built-in face engine, as the server starts by default: photos
    /// must show one face, whose vector it computes.
    pub async fn with_faces(pool: PgPool) -> Self {
        let mut settings = settings();
        settings.engine.faces.model = face_engine::MODEL_NAME.into();
        settings.engine.faces.vector_length = None;
        settings.server.upload_limit = Some(engine::settings::ByteSize(4 * 1024 * 1024));
        settings.engine.imports.photo_limit = 4 * 1024 * 1024;
        Self::build(pool, settings, Some(face_engine())).await
    }

    async fn build(
        pool: PgPool,
        settings: Settings,
        faces: Option<std::sync::Arc<face_engine::Engine>>,
    ) -> Self {
        engine::auth::create_groups(&pool).await.unwrap();
        let mut tokens = Vec::new();
        for (name, group) in [
            ("admin", "Administrator"),
            ("operator", "Operator"),
            ("viewer", "User"),
            ("gate-camera", "Camera"),
        ] {
            let mut db = pool.acquire().await.unwrap();
            let id = engine::auth::create_user(&mut db, name, "password123", group)
                .await
                .unwrap();
            tokens.push(engine::auth::issue_token(&mut db, id).await.unwrap());
        }
        let options = leptos::prelude::LeptosOptions::builder()
            .output_name("dossier")
            .build();
        let state = app_state(pool.clone(), &settings, faces, options);
        let router = server::router(state.clone());
        Self {
            pool,
            state,
            router,
            admin: tokens[0].clone(),
            operator: tokens[1].clone(),
            user: tokens[2].clone(),
            camera: tokens[3].clone(),
        }
    }

    /// The same installation's users on another database that already has them (one restored
    /// from a dump of `like`'s): a new server over it, with `like`'s tokens.
    pub fn attach(pool: PgPool, like: &TestApp) -> Self {
        let options = leptos::prelude::LeptosOptions::builder()
            .output_name("dossier")
            .build();
        let state = app_state(pool.clone(), &settings(), None, options);
        let router = server::router(state.clone());
        Self {
            pool,
            state,
            router,
            admin: like.admin.clone(),
            operator: like.operator.clone(),
            user: like.user.clone(),
            camera: like.camera.clone(),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Sends a request as if it came over a connection from `address` (as the server's
    /// listener records it for every request).
    pub async fn send_from(&self, address: &str, mut request: Request<Body>) -> Answer {
        let peer: std::net::SocketAddr = format!("{address}:40000").parse().unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        self.send(request).await
    }

    /// Calls a server function the way an API client does: JSON body, token header.
    pub async fn call(&self, endpoint: &str, token: Option<&str>, body: Value) -> Answer {
        self.post(&format!("/api/{endpoint}"), token, body).await
    }

    /// The seed's `POST /sync/dossier-lists/`, as this installation's administrator: replicate
    /// the Leader's list `remote` into the local list `local`.
    pub async fn subscribe(&self, leader_url: &str, remote: i64, local: i64) -> Answer {
        self.post(
            "/sync/dossier-lists/",
            Some(&self.admin),
            serde_json::json!({"remote_dossier_list": remote, "remote_url": leader_url, "slave_dossier_list": local}),
        )
        .await
    }

    /// `subscribe`, expecting the replica to be created; returns its id.
    pub async fn subscribed(&self, leader_url: &str, remote: i64, local: i64) -> i64 {
        let created = self.subscribe(leader_url, remote, local).await;
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        created.json()["id"].as_i64().unwrap()
    }

    /// POSTs a JSON body to any route, with the user's token if given.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        let mut request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Token {token}"));
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// Like `call`, expecting success; returns the JSON answer.
    pub async fn ok(&self, endpoint: &str, token: &str, body: Value) -> Value {
        let answer = self.call(endpoint, Some(token), body).await;
        assert!(
            answer.status.is_success(),
            "{endpoint} failed with {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        answer.json()
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn upload(&self, token: &str, fields: &[(&str, &[u8])]) -> Answer {
        self.send(upload_request(token, fields)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Token {token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    pub async fn watch_list(&self, name: &str) -> i64 {
        self.ok(
            "watch-lists/create",
            &self.operator.clone(),
            serde_json::json!({ "name": name, "active": true }),
        )
        .await["id"]
            .as_i64()
            .unwrap()
    }

    pub async fn dossier(&self, name: &str, lists: &[i64]) -> i64 {
        self.ok(
            "dossiers/create",
            &self.operator.clone(),
            serde_json::json!({ "name": name, "active": true, "watch_lists": lists }),
        )
        .await["id"]
            .as_i64()
            .unwrap()
    }
}

/// The app's state for an installation over `pool` made with `settings` (and `faces`, the
/// face engine, when they name the built-in model), as `dossier serve` assembles it.
pub fn app_state(
    pool: PgPool,
    settings: &Settings,
    faces: Option<std::sync::Arc<face_engine::Engine>>,
    options: leptos::prelude::LeptosOptions,
) -> app::state::AppState {
    let installation = engine::Installation::new(pool, settings.engine.clone(), faces)
        .expect("the tests' settings are valid");
    server::app_state(installation, settings.web(), options)
}

/// Adds a generated picture (`seed`) to a dossier as its Operator, with a vector of the tests'
/// model if given (JSON text of 4 numbers).
pub async fn add_photo(app: &TestApp, dossier: i64, seed: u32, vector: Option<&str>) {
    let png = engine::demo::portrait(seed);
    let id = dossier.to_string();
    let mut fields: Vec<(&str, &[u8])> = vec![("dossier_id", id.as_bytes()), ("image", &png)];
    if let Some(v) = vector {
        fields.push(("vector", v.as_bytes()));
        fields.push(("model", b"face-v1"));
    }
    let answer = app.upload(&app.operator, &fields).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
}

/// The face engine, loaded once for all tests (its models take a second to read) from where
/// `scripts/install-tools.sh` puts them.
pub fn face_engine() -> std::sync::Arc<face_engine::Engine> {
    static ENGINE: std::sync::OnceLock<std::sync::Arc<face_engine::Engine>> =
        std::sync::OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/face-models");
            let engine = face_engine::Engine::load(&dir, 2)
                .unwrap_or_else(|e| panic!("{e}: run scripts/install-tools.sh"));
            std::sync::Arc::new(engine)
        })
        .clone()
}

/// A test photo of face_recognition's (fetched by `scripts/face-data.sh`).
pub fn test_photo(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/test-photos")
        .join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/face-data.sh", path.display()))
}

/// Serves a router on a free port of this machine; returns its base URL and the server task.
pub async fn serve(router: Router) -> (String, tokio::task::JoinHandle<()>) {
    serve_at("127.0.0.1:0", router).await
}

/// Serves a router at an address (a server coming back where it was); returns its base URL and
/// the server task.
pub async fn serve_at(address: &str, router: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, service).await.unwrap();
    });
    (url, task)
}

/// Stops a server and waits until its address refuses connections.
pub async fn stop(url: &str, task: tokio::task::JoinHandle<()>) {
    task.abort();
    let address = url.trim_start_matches("http://");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(address).await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{url} still answers after it was stopped");
}

/// A second fresh, migrated database on the same server (`#[sqlx::test]` gives one per test;
/// replication needs two). Dropped by `drop_database`.
pub async fn fresh_database(pool: &PgPool) -> (PgPool, String) {
    let name = format!("dossier_sub_{:016x}", rand_u64());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(pool)
        .await
        .unwrap();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL names the test server");
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let other = sqlx::PgPool::connect(&url).await.unwrap();
    server::MIGRATOR.run(&other).await.unwrap();
    (other, url)
}

pub async fn drop_database(pool: &PgPool, other: PgPool, url: &str) {
    other.close().await;
    let name = url.rsplit('/').next().unwrap();
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(pool)
        .await;
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// What the tables a user can change hold, as one text, to tell whether a request changed
/// anything (the audit log aside: refusals of a login are recorded on purpose).
pub async fn snapshot(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT concat_ws('|',
            (SELECT string_agg(w::text, ',' ORDER BY id) FROM watch_lists w),
            (SELECT string_agg(d::text, ',' ORDER BY id) FROM dossiers d),
            (SELECT string_agg(m::text, ',' ORDER BY dossier_id, watch_list_id)
               FROM dossier_watch_lists m),
            (SELECT string_agg(p.id::text, ',' ORDER BY id) FROM photos p),
            (SELECT count(*)::text FROM images),
            (SELECT count(*)::text FROM face_thumbnails),
            (SELECT string_agg(u::text, ',' ORDER BY id) FROM users u),
            (SELECT count(*)::text FROM api_tokens),
            (SELECT count(*)::text FROM sessions),
            (SELECT string_agg(r::text, ',' ORDER BY id) FROM replicas r),
            (SELECT string_agg(c::text, ',' ORDER BY id) FROM cameras c))",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A photo upload (multipart, as a browser's file input sends it) with the user's token.
pub fn upload_request(token: &str, fields: &[(&str, &[u8])]) -> Request<Body> {
    multipart_request("/api/photos/upload", token, fields)
}

/// A multipart POST as a browser's form sends it (the file field is `image`).
pub fn multipart_request(path: &str, token: &str, fields: &[(&str, &[u8])]) -> Request<Body> {
    let boundary = "dossier-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        if *name == "image" {
            body.extend_from_slice(
                b"Content-Disposition: form-data; name=\"image\"; filename=\"face.png\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            );
        } else {
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::post(path)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::ACCEPT, "application/json")
        .header(header::AUTHORIZATION, format!("Token {token}"))
        .body(Body::from(body))
        .unwrap()
}
