//! The video workers' routes (`/api/video/…`), for `dossier video-worker` on other machines:
//! take and renew leases on cameras, report their status and latest frame, post sightings,
//! give the cameras up. Every route is for accounts whose group may watch cameras (the Video
//! worker group), and each is what the worker inside `dossier serve` does directly. Also the
//! camera's snapshot for its page.

use app::caller::Caller;
use app::error::AppResult;
use app::state::AppState;
use axum::{
    body::Bytes,
    extract::{Path, Query, Request, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use domain::access::Permission;
use domain::cameras::{LeaseRequest, Leases, Reports, Sighting, SightingOutcome};
use domain::Error;
use engine::cameras::leases;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The largest body a worker sends: a sighting carries two small JPEGs, a snapshot one.
const MAX_BODY: usize = 4 << 20;
/// The most cameras one worker may hold.
const MAX_CAPACITY: u32 = 64;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(take_leases))
        .routes(routes!(report))
        .routes(routes!(put_snapshot))
        .routes(routes!(post_sighting))
        .routes(routes!(release))
        .routes(routes!(snapshot))
}

/// A JSON body, read within [`MAX_BODY`], its errors said.
async fn json_body<T: DeserializeOwned>(request: Request) -> AppResult<T> {
    let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| Error::TooLarge {
            message: format!("the body is larger than {MAX_BODY} bytes"),
        })?;
    Ok(serde_json::from_slice(&bytes)
        .map_err(|e| Error::bad_request(format!("malformed JSON body: {e}")))?)
}

fn check_worker(worker: &str) -> AppResult<()> {
    let n = worker.chars().count();
    if n == 0 || n > 200 || worker.chars().any(char::is_control) {
        return Err(Error::invalid(
            "worker",
            "must be 1 to 200 characters, no control characters",
        )
        .into());
    }
    Ok(())
}

/// Renews the leases the worker holds, takes free cameras up to `capacity` in all, and returns
/// every camera it holds, streams and all, with the model the server matches faces with.
#[utoipa::path(
    post,
    path = "/api/video/leases",
    tag = "video",
    security(("token" = [])),
    request_body = LeaseRequest,
    responses((status = 200, description = "the cameras the worker holds", body = Leases))
)]
async fn take_leases(
    State(state): State<AppState>,
    Caller(user, _): Caller,
    request: Request,
) -> AppResult<Json<Leases>> {
    user.may(Permission::Video, "watch cameras")?;
    let asked: LeaseRequest = json_body(request).await?;
    check_worker(&asked.worker)?;
    if asked.capacity > MAX_CAPACITY {
        return Err(Error::invalid("capacity", format!("must be at most {MAX_CAPACITY}")).into());
    }
    let cameras = leases::hold(&state.pool, &asked.worker, asked.capacity as usize).await?;
    Ok(Json(Leases {
        model: state.monitoring.faces.model.name.clone(),
        cameras,
    }))
}

/// What the worker sees of the cameras it holds (those it does not hold are left alone).
#[utoipa::path(
    post,
    path = "/api/video/reports",
    tag = "video",
    security(("token" = [])),
    request_body = Reports,
    responses((status = 204, description = "recorded"))
)]
async fn report(
    State(state): State<AppState>,
    Caller(user, _): Caller,
    request: Request,
) -> AppResult<StatusCode> {
    user.may(Permission::Video, "watch cameras")?;
    let reports: Reports = json_body(request).await?;
    check_worker(&reports.worker)?;
    for r in &reports.reports {
        if r.detail.as_ref().is_some_and(|d| d.chars().count() > 1000) {
            return Err(Error::invalid("detail", "must be at most 1000 characters").into());
        }
    }
    leases::report(&state.pool, &reports.worker, &reports.reports).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
struct WorkerParam {
    /// The worker that holds the camera.
    worker: String,
}

/// The latest frame of a camera the worker holds (a JPEG body), for the camera's page.
#[utoipa::path(
    put,
    path = "/api/video/cameras/{id}/snapshot",
    tag = "video",
    security(("token" = [])),
    params(("id" = i64, Path, description = "the camera"), WorkerParam),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 204, description = "kept"))
)]
async fn put_snapshot(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(param): Query<WorkerParam>,
    Caller(user, _): Caller,
    request: Request,
) -> AppResult<StatusCode> {
    user.may(Permission::Video, "watch cameras")?;
    check_worker(&param.worker)?;
    let jpeg = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| Error::TooLarge {
            message: format!("the snapshot is larger than {MAX_BODY} bytes"),
        })?;
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(Error::invalid("snapshot", "must be a JPEG").into());
    }
    leases::snapshot(&state.pool, &param.worker, id, &jpeg).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A track's best shot: the server matches it and makes or updates the track's one event.
#[utoipa::path(
    post,
    path = "/api/video/sightings",
    tag = "video",
    security(("token" = [])),
    request_body = Sighting,
    responses((status = 200, description = "the event it made or updated, if any", body = SightingOutcome))
)]
async fn post_sighting(
    State(state): State<AppState>,
    Caller(user, _): Caller,
    request: Request,
) -> AppResult<Json<SightingOutcome>> {
    user.may(Permission::Video, "post what cameras see")?;
    let sighting: Sighting = json_body(request).await?;
    Ok(Json(
        engine::monitoring::sightings::record(&state.monitoring, &sighting).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
struct Release {
    worker: String,
}

/// The worker stops: every camera it holds is free for another at once.
#[utoipa::path(
    post,
    path = "/api/video/release",
    tag = "video",
    security(("token" = [])),
    request_body = Release,
    responses((status = 204, description = "given up"))
)]
async fn release(
    State(state): State<AppState>,
    Caller(user, _): Caller,
    request: Request,
) -> AppResult<StatusCode> {
    user.may(Permission::Video, "watch cameras")?;
    let body: Release = json_body(request).await?;
    check_worker(&body.worker)?;
    leases::release(&state.pool, &body.worker).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A camera's latest frame, as its video worker last sent it (JPEG). Administrators only:
/// it shows what the camera sees.
#[utoipa::path(
    get,
    path = "/cameras/{id}/snapshot",
    tag = "video",
    security(("session" = []), ("token" = [])),
    params(("id" = i64, Path, description = "the camera")),
    responses((status = 200, description = "the frame", content_type = "image/jpeg"))
)]
async fn snapshot(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Caller(user, _): Caller,
) -> AppResult<Response> {
    user.may(Permission::Admin, "see cameras")?;
    let jpeg = engine::cameras::snapshot(&state.pool, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("camera {id} has no snapshot yet")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Bytes::from(jpeg),
    )
        .into_response())
}
