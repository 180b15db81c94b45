//! The dossier database server: settings, routes (the Leptos app, its server functions under
//! `/api/`, photos, health and metrics) and start-up. `main.rs` is the command line around it.

pub mod api;
pub mod api_docs;
pub mod events_api;
pub mod exports_api;
pub mod faces;
pub mod imports;
pub mod layout;
pub mod observability;
pub mod serve;
pub mod settings;
pub mod sync_api;
pub mod video_api;
pub mod video_worker;

use api_docs::ApiReference;
use app::caller::Caller;
use app::error::AppError;
use app::state::AppState;
use app::{shell, App};
use axum::{
    body::Body,
    extract::{Extension, Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::{from_fn, from_fn_with_state},
    response::{IntoResponse, Response},
    Router,
};
use domain::Error;
use engine::images::Rendition;
use engine::Installation;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use observability::Metrics;
use std::sync::Arc;
use std::time::Duration;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use engine::database::{connect, is_migrated, MIGRATOR};

/// Largest request body beyond a photo: the multipart envelope and other fields.
const BODY_SLACK: usize = 1024 * 1024;

/// The Leptos options from the environment `cargo leptos` sets (the output name must match the
/// workspace metadata); the site is the `layout`'s where `LEPTOS_SITE_ROOT` does not say.
pub fn leptos_options(layout: &layout::Layout) -> LeptosOptions {
    let mut options = get_configuration(None)
        .map(|c| c.leptos_options)
        .unwrap_or_else(|_| LeptosOptions::builder().output_name("dossier").build());
    if options.output_name.is_empty() {
        options.output_name = "dossier".into();
    }
    if std::env::var_os("LEPTOS_SITE_ROOT").is_none() {
        options.site_root = layout.site_root.to_string_lossy().into();
    }
    options
}

pub fn app_state(
    installation: Installation,
    web: app::state::Web,
    leptos_options: LeptosOptions,
) -> AppState {
    AppState {
        leptos_options,
        installation,
        web: Arc::new(web),
    }
}

/// Every route of the server, with its middleware. The REST routes are declared with their
/// API reference entries (`routes!`); the reference is made from them, the server functions and
/// the pages, once.
pub fn router(state: AppState) -> Router {
    let metrics = Metrics::new();
    let upload_limit = state.web.upload_limit;
    let pages = generate_route_list(App);
    let (rest, documented) = OpenApiRouter::new()
        .routes(routes!(photo))
        .routes(routes!(smaller))
        .routes(routes!(search_preview))
        .routes(routes!(healthz))
        .merge(sync_api::router())
        .merge(events_api::router())
        .merge(exports_api::router())
        .merge(video_api::router())
        .merge(api_docs::router())
        .with_state(state.clone())
        .merge(
            OpenApiRouter::new()
                .routes(routes!(observability::metrics_text))
                .with_state((metrics.clone(), state.installation.clone())),
        )
        .split_for_parts();
    let page_paths: Vec<String> = pages.iter().map(|p| p.path().to_string()).collect();
    let reference = Arc::new(ApiReference::new(
        documented,
        &page_paths,
        &state.web.cookie.name,
    ));
    let pages_and_api = Router::new()
        .leptos_routes(&state, pages, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state.clone());
    rest.merge(pages_and_api)
        .layer(Extension(reference))
        // Innermost first: the caller is looked up once per request, arguments with control
        // characters are refused (and a refused browser form gets what was typed back), JSON
        // becomes form fields, photo uploads must be multipart,
        // bodies are capped, cross-site writes are refused, and every request is logged.
        .layer(from_fn(app::caller::with_caller_cache))
        .layer(from_fn(api::form_arguments))
        .layer(from_fn(api::json_to_form))
        .layer(from_fn(api::multipart_only))
        .layer(from_fn_with_state(
            api::BodyLimits {
                any: upload_limit + BODY_SLACK,
                import: state.imports.settings.limit.0 + BODY_SLACK,
            },
            api::body_limit,
        ))
        .layer(from_fn(api::same_origin_only))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // Pages set their own policy (with the nonce of their scripts); every other response
        // (JSON, photos) may load nothing and be framed by no one.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(from_fn_with_state(metrics, observability::track))
}

/// 200 only while the database answers: for load balancers and monitoring.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "`ok`", content_type = "text/plain"),
        (status = 503, description = "the database does not answer", content_type = "text/plain"),
    )
)]
async fn healthz(State(state): State<AppState>) -> Response {
    if engine::database::answers(&state.pool, Duration::from_secs(2)).await {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
    }
}

/// A photo's image, by content hash, for a logged-in user. Cached for a year (`immutable`):
/// a hash's bytes never change.
#[utoipa::path(
    get,
    path = "/photos/{sha256}",
    tag = "photos",
    security(("session" = []), ("token" = [])),
    params(("sha256" = String, Path, description = "the image's SHA-256, hex")),
    responses((status = 200, description = "the image, in its stored format"), (status = 304, description = "not modified (`If-None-Match`)"))
)]
async fn photo(
    state: State<AppState>,
    sha: Path<String>,
    _: Caller,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    serve_image(state, sha, headers, Rendition::Full).await
}

/// A photo's thumbnail (`/thumbnail`) or the face found in it (`/face`), for a logged-in user.
#[utoipa::path(
    get,
    path = "/photos/{sha256}/{rendition}",
    tag = "photos",
    security(("session" = []), ("token" = [])),
    params(
        ("sha256" = String, Path, description = "the image's SHA-256, hex"),
        ("rendition" = String, Path, description = "`thumbnail` or `face`"),
    ),
    responses((status = 200, description = "the image", content_type = "image/jpeg"), (status = 304, description = "not modified (`If-None-Match`)"))
)]
async fn smaller(
    state: State<AppState>,
    Path((sha, which)): Path<(String, String)>,
    _: Caller,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let rendition = match which.as_str() {
        "thumbnail" => Rendition::Thumbnail,
        "face" => Rendition::Face,
        _ => return Err(Error::not_found(format!("no {which:?} of a photo")).into()),
    };
    serve_image(state, Path(sha), headers, rendition).await
}

/// The photo of a search made from the page, scaled down, for its results page.
#[utoipa::path(
    get,
    path = "/faces/previews/{id}",
    tag = "faces",
    security(("session" = []), ("token" = [])),
    params(("id" = String, Path, description = "the search, as `faces/search` named it")),
    responses((status = 200, description = "the preview", content_type = "image/jpeg"))
)]
async fn search_preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller(user, _): Caller,
) -> Result<Response, AppError> {
    let jpeg = state
        .faces
        .recent
        .get(user.id, &id)
        .and_then(|kept| kept.preview.clone())
        .ok_or_else(|| Error::not_found("this search is no longer kept: search again"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        jpeg,
    )
        .into_response())
}

/// Photos are addressed by content hash, so a URL's bytes never change: browsers may keep them
/// for a year. They are private to logged-in users, hence `private`.
async fn serve_image(
    State(state): State<AppState>,
    Path(sha): Path<String>,
    headers: HeaderMap,
    rendition: Rendition,
) -> Result<Response, AppError> {
    let etag = match rendition {
        Rendition::Full => format!("\"{sha}\""),
        Rendition::Thumbnail => format!("\"{sha}-t\""),
        Rendition::Face => format!("\"{sha}-f\""),
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let (content_type, bytes) = engine::images::image_bytes(&state.pool, &sha, rendition)
        .await?
        .ok_or_else(|| Error::not_found(format!("no photo with hash {sha}")))?;
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(
            header::CACHE_CONTROL,
            match rendition {
                // A face found later (by a backfill) replaces the thumbnail shown till then.
                Rendition::Face => "private, no-cache",
                _ => "private, max-age=31536000, immutable",
            },
        )
        .header(header::ETAG, etag)
        .body(Body::from(bytes))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}
