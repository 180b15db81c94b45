//! Reports to download: the events of a filter, a watch list's dossiers and an import's refused
//! rows as CSV, streamed as they are read (`engine::exports`). Plain GET routes, so that a link
//! on a page downloads them; the caller needs to be allowed to see what they hold.

use app::caller::Caller;
use app::error::AppError;
use app::state::AppState;
use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::header,
    response::{IntoResponse, Response},
};
use domain::access::Permission;
use domain::monitoring::EventFilter;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(events_csv))
        .routes(routes!(dossiers_csv))
        .routes(routes!(refusals_csv))
}

/// The Events page's filters, as its address carries them; empty means any.
#[derive(Deserialize, IntoParams, Default)]
#[serde(default)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// A camera's name.
    camera: String,
    /// A watch list's id.
    watch_list: String,
    /// `yes` or `no`.
    matched: String,
    /// `awaiting` or `done`.
    acknowledged: String,
    /// RFC 3339 or `YYYY-MM-DDTHH:MM` (UTC).
    from: String,
    to: String,
    /// `here`, or a site's id.
    site: String,
}

/// The events of the filter, newest first, as CSV (one row per event: time, camera, site, the
/// match, acknowledgement, the face's address). Cells that a spreadsheet would read as a
/// formula start with `'`.
#[utoipa::path(
    get,
    path = "/events/export.csv",
    tag = "events",
    security(("session" = []), ("token" = [])),
    params(EventsQuery),
    responses((status = 200, description = "the events", content_type = "text/csv"))
)]
async fn events_csv(
    State(state): State<AppState>,
    Caller(user, _): Caller,
    Query(q): Query<EventsQuery>,
) -> Result<Response, AppError> {
    user.may(Permission::Read, "see events")?;
    let filter = EventFilter::parse(
        &q.camera,
        &q.watch_list,
        &q.matched,
        &q.acknowledged,
        &q.from,
        &q.to,
    )?
    .with_site(&q.site)?;
    let name = format!("events-{}.csv", chrono::Utc::now().format("%Y%m%d-%H%M"));
    Ok(csv(
        &name,
        engine::exports::events_csv(state.pool.clone(), filter),
    ))
}

/// The dossiers of a watch list as CSV: id, name, comment, active, every list each is in,
/// photos, meta (JSON), when made and changed.
#[utoipa::path(
    get,
    path = "/watch-lists/{id}/export.csv",
    tag = "watch-lists",
    security(("session" = []), ("token" = [])),
    params(("id" = i64, Path, description = "the watch list")),
    responses((status = 200, description = "the list's dossiers", content_type = "text/csv"))
)]
async fn dossiers_csv(
    State(state): State<AppState>,
    Caller(user, _): Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.may(Permission::Read, "see watch lists")?;
    let rows = engine::exports::dossiers_csv(state.pool.clone(), id).await?;
    Ok(csv(&format!("watch-list-{id}.csv"), rows))
}

/// The rows an import refused, as CSV: line, external_key, name, reason. Administrator only.
#[utoipa::path(
    get,
    path = "/imports/{id}/report.csv",
    tag = "imports",
    security(("session" = []), ("token" = [])),
    params(("id" = i64, Path, description = "the import")),
    responses((status = 200, description = "the refused rows", content_type = "text/csv"))
)]
async fn refusals_csv(
    State(state): State<AppState>,
    Caller(user, _): Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.may(Permission::Admin, "see imports")?;
    engine::imports::record::get(&state.pool, id).await?;
    let rows = engine::exports::refusals_csv(state.pool.clone(), id);
    Ok(csv(&format!("import-{id}-refused.csv"), rows))
}

/// A CSV download of `rows`. A failure midway ends the download short (the status is sent by
/// then), and is logged.
fn csv(
    name: &str,
    rows: impl Stream<Item = engine::error::Result<Vec<u8>>> + Send + 'static,
) -> Response {
    let body = Body::from_stream(rows.map(|chunk| {
        chunk.map_err(|e| {
            tracing::warn!(error = %e, "a CSV report stopped short");
            std::io::Error::other(e.to_string())
        })
    }));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}
