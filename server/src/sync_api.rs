//! The replication endpoints, plain JSON routes beside the server functions.
//!
//! Leader side (`/sync/leader/…`), for Subscribers, guarded by the shared `SYNC_TOKEN`
//! (`Authorization: Bearer …`, compared in constant time). Subscriber side
//! (`/sync/dossier-lists/…`), for administrators (session cookie or `Authorization: Token …`):
//! the seed's API for creating, listing, showing and cancelling replicas, plus "sync now".

use app::auth::Permission;
use app::error::AppError;
use app::state::AppState;
use app::sync::{leader, subscriber, LeaderInfo, LEADER_KIND};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use std::sync::OnceLock;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Subscribers' feed requests (pages, images, digests) run at most this many at once: however
/// many Subscribers sync together, the Leader's own users still find database connections and
/// CPU. The others wait their turn; a Subscriber is a patient client.
const FEED_CONCURRENCY: usize = 4;

async fn feed_slot() -> SemaphorePermit<'static> {
    static FEED: OnceLock<Semaphore> = OnceLock::new();
    FEED.get_or_init(|| Semaphore::new(FEED_CONCURRENCY))
        .acquire()
        .await
        .expect("the feed semaphore is never closed")
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sync/leader/info", get(info))
        .route("/sync/leader/dossier-lists/", get(offered_lists))
        .route("/sync/leader/dossier-lists/{id}/changes", get(changes))
        .route("/sync/leader/dossier-lists/{id}/digest", get(digest))
        .route("/sync/leader/images", post(images))
        .route(
            "/sync/dossier-lists/",
            get(list_replicas).post(create_replica),
        )
        .route(
            "/sync/dossier-lists/{id}/",
            get(show_replica).delete(cancel_replica),
        )
        .route("/sync/dossier-lists/{id}/sync/", post(sync_now))
}

fn failure(error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(error)).into_response()
}

/// The Subscriber must present the shared token. Nothing about the token is logged.
fn check_sync_token(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let token = &state.settings.sync.token;
    if !token.is_set() {
        return Err(AppError::Unauthenticated {
            message: "replication is off on this Leader (SYNC_TOKEN is not set)".into(),
        });
    }
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if token.matches(offered) {
        Ok(())
    } else {
        Err(AppError::Unauthenticated {
            message: "wrong or missing sync token".into(),
        })
    }
}

async fn info(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = check_sync_token(&state, &headers) {
        return failure(refused);
    }
    Json(LeaderInfo {
        kind: LEADER_KIND.into(),
        face_model: state.settings.face_model.clone(),
        face_vector_length: state.settings.face_vector_length,
    })
    .into_response()
}

async fn offered_lists(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = check_sync_token(&state, &headers) {
        return failure(refused);
    }
    match leader::lists(&state.pool).await {
        Ok(lists) => Json(lists).into_response(),
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
struct ChangesQuery {
    #[serde(default)]
    since: i64,
    until: Option<i64>,
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

async fn changes(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(list): Path<i64>,
    Query(query): Query<ChangesQuery>,
) -> Response {
    if let Err(refused) = check_sync_token(&state, &headers) {
        return failure(refused);
    }
    let _slot = feed_slot().await;
    let limit = query.limit.unwrap_or(500);
    match leader::changes(
        &state.pool,
        list,
        query.since,
        query.until,
        query.after,
        limit,
    )
    .await
    {
        Ok(page) => json_off_runtime(page).await,
        Err(leader::ChangesError::TooOld(e)) => (
            StatusCode::GONE,
            Json(AppError::Conflict {
                field: "since".into(),
                message: e.to_string(),
            }),
        )
            .into_response(),
        Err(leader::ChangesError::App(e)) => failure(e),
    }
}

/// Serializes a large answer on the blocking pool. A feed page is megabytes of JSON: while a
/// runtime worker spends milliseconds on it (far longer in wall time when the cores are busy),
/// every request queued on that worker waits, and the Leader's own users come first.
async fn json_off_runtime<T: serde::Serialize + Send + 'static>(value: T) -> Response {
    match tokio::task::spawn_blocking(move || serde_json::to_vec(&value)).await {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(Err(e)) => failure(AppError::Internal {
            message: format!("could not encode the answer: {e}"),
        }),
        Err(e) => failure(AppError::Internal {
            message: format!("encoding the answer failed: {e}"),
        }),
    }
}

async fn digest(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(list): Path<i64>,
) -> Response {
    if let Err(refused) = check_sync_token(&state, &headers) {
        return failure(refused);
    }
    let _slot = feed_slot().await;
    match leader::digest(&state.pool, list).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => failure(e),
    }
}

async fn images(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = check_sync_token(&state, &headers) {
        return failure(refused);
    }
    let hashes: Vec<String> = match serde_json::from_slice(&body) {
        Ok(h) => h,
        Err(e) => {
            return failure(AppError::BadRequest {
                message: format!("expected a JSON array of hex SHA-256 hashes: {e}"),
            })
        }
    };
    if hashes.len() > 1000 {
        return failure(AppError::invalid("hashes", "at most 1000 per request"));
    }
    let _slot = feed_slot().await;
    match leader::images(&state.pool, &hashes).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => failure(e),
    }
}

/// The Subscriber routes need an Administrator, like the rest of replication management.
async fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    match app::auth::ssr::user_from_headers(&state.pool, headers).await? {
        Some(user) if user.can(Permission::Admin) => Ok(()),
        Some(user) => Err(AppError::forbidden(format!(
            "your group ({}) may not manage replication",
            user.group
        ))),
        None => Err(AppError::unauthenticated()),
    }
}

/// The seed's body; `subscriber_dossier_list` is accepted for `slave_dossier_list`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewReplicaBody {
    remote_dossier_list: i64,
    remote_url: String,
    #[serde(alias = "subscriber_dossier_list")]
    slave_dossier_list: i64,
}

async fn create_replica(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = require_admin(&state, &headers).await {
        return failure(refused);
    }
    let body: NewReplicaBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return failure(AppError::BadRequest {
                message: format!(
                    "expected {{\"remote_dossier_list\": <Leader list id>, \"remote_url\": \"http://leader:3000\", \"slave_dossier_list\": <empty local list id>}}: {e}"
                ),
            })
        }
    };
    let new = subscriber::NewReplica {
        remote_url: body.remote_url,
        remote_list: body.remote_dossier_list,
        local_list: body.slave_dossier_list,
    };
    match subscriber::create(&state, new).await {
        Ok(replica) => (StatusCode::CREATED, Json(replica)).into_response(),
        Err(e) => failure(e),
    }
}

async fn list_replicas(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = require_admin(&state, &headers).await {
        return failure(refused);
    }
    match subscriber::replicas(&state.pool).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => failure(e),
    }
}

async fn show_replica(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(refused) = require_admin(&state, &headers).await {
        return failure(refused);
    }
    match subscriber::replica(&state.pool, id).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => failure(e),
    }
}

async fn cancel_replica(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(refused) = require_admin(&state, &headers).await {
        return failure(refused);
    }
    match subscriber::cancel(&state.pool, id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => failure(e),
    }
}

async fn sync_now(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(refused) = require_admin(&state, &headers).await {
        return failure(refused);
    }
    match subscriber::sync_now(&state.pool, id).await {
        Ok(r) => (StatusCode::ACCEPTED, Json(r)).into_response(),
        Err(e) => failure(e),
    }
}
