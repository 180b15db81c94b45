//! Monitoring's HTTP routes that are not server functions: cameras posting what they see
//! (`POST /api/events/faces`, JSON or multipart, read here because a photo in JSON is larger
//! than the server functions' bodies), the faces events kept, and the live stream the events
//! page listens to.

use app::caller::Caller;
use app::error::{AppError, AppResult};
use app::multipart::{self, Unknown};
use app::state::AppState;
use axum::{
    body::Bytes,
    extract::{Path, Request, State},
    http::{header, StatusCode},
    response::{
        sse::{Event as SseEvent, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use base64::Engine as _;
use domain::access::Permission;
use domain::Error;
use engine::monitoring::ingest::{ingest, Submission};
use futures_util::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Monitoring's routes, each added with its entry in the API reference.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_faces))
        .routes(routes!(face))
        .routes(routes!(frame))
        .routes(routes!(live))
}

/// A post in JSON: `image` is the photo in base64; or `model` and `vectors`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventPost {
    /// The camera's name (letters, digits, `-`, `_`, `.`).
    camera: Option<String>,
    /// When the camera saw it (RFC 3339); now when omitted.
    captured_at: Option<String>,
    /// The photo, base64: the server finds every face in it.
    image: Option<String>,
    /// The model that made `vectors`; it must be this installation's.
    model: Option<String>,
    /// Ready face vectors, one per face, each of the model's length.
    vectors: Option<Vec<Vec<f32>>>,
}

/// A camera reports what it saw: a photo (every face in it is found) or ready vectors. Each
/// face becomes an event, matched against the active watch lists. The same fields may come as
/// `multipart/form-data`, with `image` a file and `vectors` JSON text. For users of the
/// `Camera` group (or any group that may post events).
#[utoipa::path(
    post,
    path = "/api/events/faces",
    tag = "events",
    security(("token" = []), ("session" = [])),
    request_body(content = EventPost, content_type = "application/json"),
    responses(
        (status = 201, description = "one event per face, with its match if any", body = engine::monitoring::ingest::Ingested),
        (status = 503, description = "the database is away; nothing was stored: post again after `Retry-After` seconds", body = domain::Error),
    )
)]
async fn post_faces(
    State(state): State<AppState>,
    Caller(user, _): Caller,
    request: Request,
) -> AppResult<Response> {
    user.may(Permission::Ingest, "post events")?;
    let limit = state.web.upload_limit;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let post = if content_type.starts_with("application/json") {
        json_post(request, limit).await?
    } else if content_type.starts_with("multipart/form-data") {
        multipart_post(request, limit).await?
    } else {
        return Err(Error::bad_request(
            "send the event as application/json or multipart/form-data",
        )
        .into());
    };
    let ingested = ingest(&state.monitoring, post).await?;
    Ok((StatusCode::CREATED, Json(ingested)).into_response())
}

async fn json_post(request: Request, limit: usize) -> AppResult<Submission> {
    // A photo in base64 is a third larger than the photo.
    let bytes = axum::body::to_bytes(request.into_body(), limit / 3 * 4 + 64 * 1024)
        .await
        .map_err(|_| Error::TooLarge {
            message: format!("image: larger than the upload limit of {limit} bytes"),
        })?;
    let post: EventPost = serde_json::from_slice(&bytes)
        .map_err(|e| Error::bad_request(format!("malformed JSON body: {e}")))?;
    let image = post
        .image
        .map(|text| {
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| Error::invalid("image", "is not base64 text"))
        })
        .transpose()?;
    if image.as_ref().is_some_and(|i| i.len() > limit) {
        return Err(Error::TooLarge {
            message: format!("image: larger than the upload limit of {limit} bytes"),
        }
        .into());
    }
    Ok(Submission {
        camera: post.camera,
        captured_at: post.captured_at,
        image,
        model: post.model,
        vectors: post.vectors,
    })
}

async fn multipart_post(request: Request, limit: usize) -> AppResult<Submission> {
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| Error::bad_request("malformed multipart body: no boundary"))?;
    let body = multer::Multipart::new(request.into_body().into_data_stream(), boundary);
    let mut form = multipart::read(
        body,
        limit,
        &["camera", "captured_at", "model", "vectors"],
        Unknown::Refuse("send camera, captured_at, and image or model and vectors"),
    )
    .await?;
    let vectors = form
        .take("vectors")
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| {
                Error::invalid(
                    "vectors",
                    format!("must be a JSON array of arrays of numbers: {e}"),
                )
            })
        })
        .transpose()?;
    Ok(Submission {
        camera: form.take("camera"),
        captured_at: form.take("captured_at"),
        model: form.take("model"),
        image: form.image,
        vectors,
    })
}

/// The face an event's photo showed (JPEG).
#[utoipa::path(
    get,
    path = "/events/{id}/face",
    tag = "events",
    security(("session" = []), ("token" = [])),
    params(("id" = i64, Path, description = "the event")),
    responses((status = 200, description = "the face", content_type = "image/jpeg"))
)]
async fn face(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Caller(user, _): Caller,
) -> Result<Response, AppError> {
    user.may(Permission::Read, "see events")?;
    let jpeg = engine::monitoring::store::face(&state.pool, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("event {id} has no face picture")))?;
    Ok(picture(jpeg))
}

/// The frame a watched camera saw an event's face in, small (JPEG).
#[utoipa::path(
    get,
    path = "/events/{id}/frame",
    tag = "events",
    security(("session" = []), ("token" = [])),
    params(("id" = i64, Path, description = "the event")),
    responses((status = 200, description = "the frame", content_type = "image/jpeg"))
)]
async fn frame(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Caller(user, _): Caller,
) -> Result<Response, AppError> {
    user.may(Permission::Read, "see events")?;
    let jpeg = engine::monitoring::store::frame(&state.pool, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("event {id} has no frame picture")))?;
    Ok(picture(jpeg))
}

/// An event's picture: it changes only for a better shot of the same track, so it may be
/// cached briefly.
fn picture(jpeg: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=60"),
        ],
        Bytes::from(jpeg),
    )
        .into_response()
}

/// New events as server-sent events (`event: face`, the event as JSON), for the events page.
/// `event: missed` means the listener fell behind: reload the list.
#[utoipa::path(
    get,
    path = "/events/live",
    tag = "events",
    security(("session" = []), ("token" = [])),
    responses((status = 200, description = "the stream", content_type = "text/event-stream"))
)]
async fn live(
    State(state): State<AppState>,
    Caller(user, _): Caller,
) -> AppResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    user.may(Permission::Read, "see events")?;
    let mut events = state.monitoring.live.subscribe();
    // The stream ends when the installation stops, so that a stop need not wait for pages
    // that keep listening.
    let stop = state.stop.clone();
    let stream = async_stream(move |tx| async move {
        loop {
            let received = tokio::select! {
                received = events.recv() => received,
                _ = stop.cancelled() => break,
            };
            let next = match received {
                Ok(e) => SseEvent::default()
                    .event("face")
                    .json_data(&e)
                    .unwrap_or_else(|_| SseEvent::default().event("missed")),
                // The page fell behind: it reloads instead of showing a gap.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    SseEvent::default().event("missed").data("")
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            if tx.send(Ok(next)).await.is_err() {
                break;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A stream fed by a task through a small channel; the task ends when the client goes.
fn async_stream<F, Fut>(run: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<SseEvent, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(run(tx));
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })
}
