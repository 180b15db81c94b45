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
    Json,
};
use domain::access::Permission;
use domain::audit::Actor;
use domain::sync::{LeaderInfo, Replica, LEADER_KIND};
use domain::Error;
use engine::sync::{feed, history, hold, replicas};
use serde::Deserialize;
use std::sync::OnceLock;
use tokio::sync::{Semaphore, SemaphorePermit};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Subscribers' feed requests (pages, images, digests) run at most this many at once: however
/// many Subscribers sync together, the Leader's own users still find database connections and
/// CPU. The others wait their turn; a Subscriber is a patient client.
const FEED_CONCURRENCY: usize = 4;

async fn feed_slot() -> SemaphorePermit<'static> {
    static FEED: OnceLock<Semaphore> = OnceLock::new();
    slot(&FEED, FEED_CONCURRENCY).await
}

/// A turn among at most `concurrency` requests of one kind.
async fn slot(slots: &'static OnceLock<Semaphore>, concurrency: usize) -> SemaphorePermit<'static> {
    slots
        .get_or_init(|| Semaphore::new(concurrency))
        .acquire()
        .await
        .expect("a request semaphore is never closed")
}

/// Every replication route, each added with its entry in the API reference.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(info))
        .routes(routes!(offered_lists))
        .routes(routes!(changes))
        .routes(routes!(digest))
        .routes(routes!(members))
        .routes(routes!(chosen_dossiers))
        .routes(routes!(images))
        .routes(routes!(site_events))
        .routes(routes!(list_replicas, create_replica))
        .routes(routes!(show_replica, cancel_replica))
        .routes(routes!(sync_now))
        .routes(routes!(confirm_hold))
        .routes(routes!(reject_hold))
}

/// The replica's id on this Subscriber.
const REPLICA_ID: &str = "the replica's id: its local list's";

/// Who this Leader is: its installation id, its epoch (which changes whenever its history may
/// have gone back, such as a restore from a backup), its revision and its face model.
#[utoipa::path(
    get,
    path = "/sync/leader/info",
    tag = "sync",
    security(("sync_token" = [])),
    responses((status = 200, body = domain::sync::LeaderInfo))
)]
async fn info(State(state): State<AppState>, _: SyncPeer) -> AppResult<Json<LeaderInfo>> {
    let (installation_id, epoch, revision) = history::identity(&state.pool).await?;
    Ok(Json(LeaderInfo {
        kind: LEADER_KIND.into(),
        face_model: state.faces.model.name.clone(),
        face_vector_length: state.faces.model.vector_length,
        installation_id,
        epoch,
        revision,
    }))
}

/// The lists this Leader offers for replication.
#[utoipa::path(
    get,
    path = "/sync/leader/dossier-lists/",
    tag = "sync",
    security(("sync_token" = [])),
    responses((status = 200, body = Vec<domain::sync::RemoteList>))
)]
async fn offered_lists(
    State(state): State<AppState>,
    _: SyncPeer,
) -> AppResult<Json<Vec<domain::sync::RemoteList>>> {
    Ok(Json(feed::lists(&state.pool).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangesQuery {
    /// The revision the Subscriber has (0: from the start).
    #[serde(default)]
    since: i64,
    /// The revision the run reads up to (the first page's `until`), so a run sees one state.
    until: Option<i64>,
    /// The last dossier id of the previous page (keyset paging).
    #[serde(default)]
    after: i64,
    /// Dossiers per page; 500 when omitted.
    limit: Option<i64>,
}

/// A page of a list's changes since a revision: dossiers as they are now (with photos and
/// vectors) and removals. A cursor the Leader can no longer serve answers 410: the Subscriber
/// then resyncs in full.
#[utoipa::path(
    get,
    path = "/sync/leader/dossier-lists/{id}/changes",
    tag = "sync",
    security(("sync_token" = [])),
    params(("id" = i64, Path, description = "the Leader's list"), ChangesQuery),
    responses(
        (status = 200, body = domain::sync::ChangePage),
        (status = 410, description = "the cursor is older than the Leader's history: resync in full", body = domain::Error),
    )
)]
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

/// A digest of a list's members as the Leader has them, to check a replica against.
#[utoipa::path(
    get,
    path = "/sync/leader/dossier-lists/{id}/digest",
    tag = "sync",
    security(("sync_token" = [])),
    params(("id" = i64, Path, description = "the Leader's list")),
    responses((status = 200, body = domain::sync::ListDigest))
)]
async fn digest(
    State(state): State<AppState>,
    Path(list): Path<i64>,
    _: SyncPeer,
) -> AppResult<Json<domain::sync::ListDigest>> {
    let _slot = feed_slot().await;
    Ok(Json(feed::digest(&state.pool, list).await?))
}

/// Every member id of a list, for the mass-removal guard of a Subscriber.
#[utoipa::path(
    get,
    path = "/sync/leader/dossier-lists/{id}/members",
    tag = "sync",
    security(("sync_token" = [])),
    params(("id" = i64, Path, description = "the Leader's list")),
    responses((status = 200, description = "the members' dossier ids, ascending", body = Vec<i64>))
)]
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
#[utoipa::path(
    post,
    path = "/sync/leader/dossier-lists/{id}/dossiers",
    tag = "sync",
    security(("sync_token" = [])),
    params(("id" = i64, Path, description = "the Leader's list")),
    request_body(content = Vec<i64>, description = "dossier ids, at most 2000"),
    responses((status = 200, description = "those dossiers as they are now; ids no longer in the list are removals", body = domain::sync::ChangePage))
)]
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

/// Sites' deliveries taken at once, at most: a fleet catching up after an outage queues here
/// instead of taking every database connection.
const HITS_CONCURRENCY: usize = 4;

/// A Subscriber's hits: the events that matched this Leader's lists at the site (at most 100
/// per batch, taken whole or not at all, each stored once under its key at the site however
/// often it is sent), and how the site is. The answer is this Leader's acknowledgements of the
/// site's events made since the batch's `ack_cursor`, and its epoch.
#[utoipa::path(
    post,
    path = "/sync/leader/events",
    tag = "sync",
    security(("sync_token" = [])),
    request_body = domain::hits::HitBatch,
    responses(
        (status = 200, body = domain::hits::HitReceipt),
        (status = 409, description = "the site expected another Leader installation", body = domain::Error),
        (status = 400, description = "a field of the batch is wrong (`field` names it); nothing was stored", body = domain::Error),
    )
)]
async fn site_events(
    State(state): State<AppState>,
    _: SyncPeer,
    body: Bytes,
) -> AppResult<Json<domain::hits::HitReceipt>> {
    let batch: domain::hits::HitBatch = serde_json::from_slice(&body)
        .map_err(|e| Error::bad_request(format!("expected a batch of hits (JSON): {e}")))?;
    static HITS: OnceLock<Semaphore> = OnceLock::new();
    let _slot = slot(&HITS, HITS_CONCURRENCY).await;
    Ok(Json(
        engine::hits::sites::receive(&state.monitoring, batch).await?,
    ))
}

/// Images by content hash, in a simple binary framing: for each image the 32-byte SHA-256,
/// then four length-prefixed fields (u32 big-endian lengths): content type, "WxH", the bytes,
/// the thumbnail. Unknown hashes are skipped.
#[utoipa::path(
    post,
    path = "/sync/leader/images",
    tag = "sync",
    security(("sync_token" = [])),
    request_body(content = Vec<String>, description = "hex SHA-256 hashes, at most 1000"),
    responses((status = 200, description = "the images", content_type = "application/octet-stream"))
)]
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
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewReplicaBody {
    /// The list's id on the Leader.
    remote_dossier_list: i64,
    /// The Leader's address, such as `http://leader:3000`.
    remote_url: String,
    /// The local list that becomes the replica; it must be empty.
    #[serde(alias = "subscriber_dossier_list")]
    slave_dossier_list: i64,
}

/// Makes an empty local list a replica of a Leader's list; the first run starts at once.
#[utoipa::path(
    post,
    path = "/sync/dossier-lists/",
    tag = "replication",
    security(("session" = []), ("token" = [])),
    request_body = NewReplicaBody,
    responses((status = 201, body = Replica))
)]
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
        Json(replicas::create(&state.replication, &actor, new).await?),
    ))
}

/// This installation's replicas, with their state and last run.
#[utoipa::path(
    get,
    path = "/sync/dossier-lists/",
    tag = "replication",
    security(("session" = []), ("token" = [])),
    responses((status = 200, body = Vec<Replica>))
)]
async fn list_replicas(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<Replica>>> {
    admin(caller)?;
    Ok(Json(replicas::replicas(&state.pool).await?))
}

/// One replica, with its state and last run.
#[utoipa::path(
    get,
    path = "/sync/dossier-lists/{id}/",
    tag = "replication",
    security(("session" = []), ("token" = [])),
    params(("id" = i64, Path, description = REPLICA_ID)),
    responses((status = 200, body = Replica))
)]
async fn show_replica(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    caller: Caller,
) -> AppResult<Json<Replica>> {
    admin(caller)?;
    Ok(Json(replicas::replica(&state.pool, id).await?))
}

/// Stops replicating; the local list and its dossiers stay, and become editable.
#[utoipa::path(
    delete,
    path = "/sync/dossier-lists/{id}/",
    tag = "replication",
    security(("session" = []), ("token" = [])),
    params(("id" = i64, Path, description = REPLICA_ID)),
    responses((status = 204, description = "cancelled"))
)]
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
#[utoipa::path(
    post,
    path = "/sync/dossier-lists/{id}/confirm/",
    tag = "replication",
    security(("session" = []), ("token" = [])),
    params(("id" = i64, Path, description = REPLICA_ID)),
    responses((status = 202, description = "the run starts", body = Replica))
)]
async fn confirm_hold(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    caller: Caller,
) -> AppResult<(StatusCode, Json<Replica>)> {
    let actor = admin(caller)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(hold::confirm_hold(&state.replication, &actor, id).await?),
    ))
}

/// Keeps the replica as it is: the held run is dropped and the schedule tries again later.
#[utoipa::path(
    post,
    path = "/sync/dossier-lists/{id}/reject/",
    tag = "replication",
    security(("session" = []), ("token" = [])),
    params(("id" = i64, Path, description = REPLICA_ID)),
    responses((status = 200, body = Replica))
)]
async fn reject_hold(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    caller: Caller,
) -> AppResult<Json<Replica>> {
    let actor = admin(caller)?;
    Ok(Json(
        hold::reject_hold(&state.replication, &actor, id).await?,
    ))
}

/// Starts a run now ("sync now"); its progress shows in the replica's state.
#[utoipa::path(
    post,
    path = "/sync/dossier-lists/{id}/sync/",
    tag = "replication",
    security(("session" = []), ("token" = [])),
    params(("id" = i64, Path, description = REPLICA_ID)),
    responses((status = 202, description = "the run starts", body = Replica))
)]
async fn sync_now(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    caller: Caller,
) -> AppResult<(StatusCode, Json<Replica>)> {
    let actor = admin(caller)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(replicas::sync_now(&state.replication, &actor, id).await?),
    ))
}
