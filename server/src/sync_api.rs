//! The replication endpoints, plain JSON routes beside the server functions.
//!
//! Leader side (`/sync/leader/…`), for Subscribers: the caller is a `SyncPeer` (the shared
//! `SYNC_TOKEN`, compared in constant time). Subscriber side (`/sync/dossier-lists/…`), for
//! administrators (session cookie or `Authorization: Token …`): the seed's API for creating,
//! listing, showing and cancelling replicas, plus "sync now". Errors answer through
//! `AppError`'s `IntoResponse`, like every other route.

use app::caller::{Caller, SyncPeer};
use app::error::{AppError, AppResult};
use app::state::AppState;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use domain::access::Permission;
use domain::audit::Actor;
use domain::sync::{feed, history, hold, replicas, LeaderInfo, Replica, LEADER_KIND};
use domain::Error;
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
        .route("/sync/leader/dossier-lists/{id}/members", get(members))
        .route(
            "/sync/leader/dossier-lists/{id}/dossiers",
            post(chosen_dossiers),
        )
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
        .route("/sync/dossier-lists/{id}/confirm/", post(confirm_hold))
        .route("/sync/dossier-lists/{id}/reject/", post(reject_hold))
}

async fn info(State(state): State<AppState>, _: SyncPeer) -> AppResult<Json<LeaderInfo>> {
    let (installation_id, epoch, revision) = history::identity(&state.pool).await?;
    Ok(Json(LeaderInfo {
        kind: LEADER_KIND.into(),
        face_model: state.settings.face_model.clone(),
        face_vector_length: state.settings.face_vector_length,
        installation_id,
        epoch,
        revision,
    }))
}

async fn offered_lists(
    State(state): State<AppState>,
    _: SyncPeer,
) -> AppResult<Json<Vec<domain::sync::RemoteList>>> {
    Ok(Json(feed::lists(&state.pool).await?))
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
    Path(list): Path<i64>,
    Query(query): Query<ChangesQuery>,
    _: SyncPeer,
) -> Result<Response, AppError> {
    let _slot = feed_slot().await;
    let limit = query.limit.unwrap_or(500);
    let page = feed::changes(
        &state.pool,
        list,
        query.since,
        query.until,
        query.after,
        limit,
    )
    .await;
    match page {
        Ok(page) => json_off_runtime(page).await,
        // A cursor the Leader can no longer serve: the Subscriber starts over (a full resync).
        Err(feed::ChangesError::TooOld(e)) => Ok((
            StatusCode::GONE,
            Json(Error::conflict("since", e.to_string())),
        )
            .into_response()),
        Err(feed::ChangesError::App(e)) => Err(e.into()),
    }
}

/// Serializes a large answer on the blocking pool. A feed page is megabytes of JSON: while a
/// runtime worker spends milliseconds on it (far longer in wall time when the cores are busy),
/// every request queued on that worker waits, and the Leader's own users come first.
async fn json_off_runtime<T: serde::Serialize + Send + 'static>(value: T) -> AppResult<Response> {
    let encoded = tokio::task::spawn_blocking(move || serde_json::to_vec(&value))
        .await
        .map_err(|e| Error::Internal {
            message: format!("encoding the answer failed: {e}"),
        })?
        .map_err(|e| Error::Internal {
            message: format!("could not encode the answer: {e}"),
        })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], encoded).into_response())
}

async fn digest(
    State(state): State<AppState>,
    Path(list): Path<i64>,
    _: SyncPeer,
) -> AppResult<Json<domain::sync::ListDigest>> {
    let _slot = feed_slot().await;
    Ok(Json(feed::digest(&state.pool, list).await?))
}

/// Every member id of a list, for the mass-removal guard of a Subscriber.
async fn members(
    State(state): State<AppState>,
    Path(list): Path<i64>,
    _: SyncPeer,
) -> AppResult<Response> {
    let _slot = feed_slot().await;
    json_off_runtime(feed::members(&state.pool, list).await?).await
}

/// Most dossiers a Subscriber may ask for by id at once.
const MAX_CHOSEN: usize = 2000;

/// Chosen dossiers of a list as they are now: a Subscriber restoring what it deleted locally.
async fn chosen_dossiers(
    State(state): State<AppState>,
    Path(list): Path<i64>,
    _: SyncPeer,
    body: Bytes,
) -> AppResult<Response> {
    let ids: Vec<i64> = serde_json::from_slice(&body)
        .map_err(|e| Error::bad_request(format!("expected a JSON array of dossier ids: {e}")))?;
    if ids.len() > MAX_CHOSEN {
        return Err(Error::invalid("ids", format!("at most {MAX_CHOSEN} per request")).into());
    }
    let _slot = feed_slot().await;
    json_off_runtime(feed::dossiers(&state.pool, list, ids).await?).await
}

async fn images(State(state): State<AppState>, _: SyncPeer, body: Bytes) -> AppResult<Response> {
    let hashes: Vec<String> = serde_json::from_slice(&body).map_err(|e| {
        Error::bad_request(format!("expected a JSON array of hex SHA-256 hashes: {e}"))
    })?;
    if hashes.len() > 1000 {
        return Err(Error::invalid("hashes", "at most 1000 per request").into());
    }
    let _slot = feed_slot().await;
    let bytes = feed::images(&state.pool, &hashes).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// The Subscriber routes need an Administrator, like the rest of replication management.
/// The caller, if an Administrator, as the audit log names them.
fn admin(caller: Caller) -> AppResult<Actor> {
    caller.acting(Permission::Admin, "manage replication")
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
    caller: Caller,
    body: Bytes,
) -> AppResult<(StatusCode, Json<Replica>)> {
    let actor = admin(caller)?;
    let body: NewReplicaBody = serde_json::from_slice(&body).map_err(|e| {
        Error::bad_request(format!(
            "expected {{\"remote_dossier_list\": <Leader list id>, \"remote_url\": \"http://leader:3000\", \"slave_dossier_list\": <empty local list id>}}: {e}"
        ))
    })?;
    let new = replicas::NewReplica {
        remote_url: body.remote_url,
        remote_list: body.remote_dossier_list,
        local_list: body.slave_dossier_list,
    };
    Ok((
        StatusCode::CREATED,
        Json(replicas::create(&state, &actor, new).await?),
    ))
}

async fn list_replicas(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<Replica>>> {
    admin(caller)?;
    Ok(Json(replicas::replicas(&state.pool).await?))
}

async fn show_replica(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    caller: Caller,
) -> AppResult<Json<Replica>> {
    admin(caller)?;
    Ok(Json(replicas::replica(&state.pool, id).await?))
}

async fn cancel_replica(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    caller: Caller,
) -> AppResult<StatusCode> {
    let actor = admin(caller)?;
    replicas::cancel(&state.pool, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lets a held run go ahead: the new Leader is accepted, or the removals are.
async fn confirm_hold(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    caller: Caller,
) -> AppResult<(StatusCode, Json<Replica>)> {
    let actor = admin(caller)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(hold::confirm_hold(&state, &actor, id).await?),
    ))
}

/// Keeps the replica as it is: the held run is dropped and the schedule tries again later.
async fn reject_hold(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    caller: Caller,
) -> AppResult<Json<Replica>> {
    let actor = admin(caller)?;
    Ok(Json(hold::reject_hold(&state, &actor, id).await?))
}

async fn sync_now(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    caller: Caller,
) -> AppResult<(StatusCode, Json<Replica>)> {
    let actor = admin(caller)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(replicas::sync_now(&state, &actor, id).await?),
    ))
}
