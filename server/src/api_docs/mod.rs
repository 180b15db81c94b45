//! The API reference, served at `/api-docs`: an OpenAPI 3.1 document (`/api-docs/openapi.json`)
//! and a page people read. It is assembled at start-up from the code itself:
//! - the REST routes are declared with `utoipa-axum`'s `routes!`, which adds each handler to the
//!   router and its `#[utoipa::path]` description to the document in the same step;
//! - the server functions from their argument structs and answers (`server_functions`);
//! - the pages from the same route list the router serves them from.
//!
//! Schemas come from the domain's types (`ToSchema`), so a field added to an answer is in the
//! reference without anyone remembering it.

mod page;
mod server_functions;

use axum::{
    body::Bytes,
    extract::Extension,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use std::sync::Arc;
use utoipa::openapi::{
    path::{HttpMethod, Operation, OperationBuilder},
    security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    },
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, ResponseBuilder, Tag,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Who may call an operation, as the reference states it.
#[derive(Clone, Copy)]
enum Access {
    /// No credentials (logging in, the site's name, health).
    Anyone,
    /// A logged-in user (session cookie) or an API token; the group decides the rest.
    Member,
}

/// The security schemes' names in the document (the routes' `#[utoipa::path]` spell them too).
const SESSION: &str = "session";
const TOKEN: &str = "token";
const SYNC_TOKEN: &str = "sync_token";

/// The document and the page, made once at start-up (as `Bytes`: each answer shares them).
pub struct ApiReference {
    json: Bytes,
    html: Bytes,
}

impl ApiReference {
    /// The reference of a router whose REST routes are `routes` (as `OpenApiRouter` collected
    /// them) and whose pages are at `pages`.
    pub fn new(routes: OpenApi, pages: &[String], cookie_name: &str) -> Self {
        let document = document(routes, pages, cookie_name);
        Self {
            json: document.to_pretty_json().unwrap_or_default().into(),
            html: page::render(&document).into(),
        }
    }
}

/// The routes of the reference itself, documented like every other.
pub fn router<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(readable))
        .routes(routes!(openapi_json))
}

/// The API reference: a page listing every endpoint, or, asked for JSON, the OpenAPI document.
#[utoipa::path(
    get,
    path = "/api-docs",
    tag = "reference",
    responses(
        (status = 200, description = "the reference as a page (HTML), or the OpenAPI document when `Accept` asks for JSON", content_type = "text/html"),
    )
)]
async fn readable(
    Extension(reference): Extension<Arc<ApiReference>>,
    headers: HeaderMap,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json") && !v.contains("text/html"));
    if wants_json {
        return json_answer(&reference);
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // The page is plain HTML with the site's stylesheet: no script, no inline style.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'",
                ),
            ),
        ],
        reference.html.clone(),
    )
        .into_response()
}

/// The OpenAPI 3.1 document of this API, for generating clients.
#[utoipa::path(
    get,
    path = "/api-docs/openapi.json",
    tag = "reference",
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json"))
)]
async fn openapi_json(Extension(reference): Extension<Arc<ApiReference>>) -> Response {
    json_answer(&reference)
}

fn json_answer(reference: &ApiReference) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        reference.json.clone(),
    )
        .into_response()
}

fn document(routes: OpenApi, pages: &[String], cookie_name: &str) -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Dossier database")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(OVERVIEW))
                .build(),
        )
        .tags(Some(tags()))
        .build();
    doc.merge(whole_sentences(routes));
    server_functions::add(&mut doc);
    add_pages(&mut doc, pages);
    add_errors(&mut doc);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SESSION,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            cookie_name,
            "The session cookie `auth/login` sets (HttpOnly, SameSite=Lax).",
        ))),
    );
    components.add_security_scheme(
        TOKEN,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Authorization",
            "`Authorization: Token <token>`: an API token an Administrator issues (Users page, or \
             `users/issue-token`). Cameras use the tokens of users in the `Camera` group.",
        ))),
    );
    components.add_security_scheme(
        SYNC_TOKEN,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "`Authorization: Bearer <SYNC_TOKEN>`: the token the Leader and its \
                     Subscribers share (the `SYNC_TOKEN` setting).",
                ))
                .build(),
        ),
    );
    let mut schemas = Vec::new();
    domain::Error::schemas(&mut schemas);
    components.schemas.extend(schemas);
    components.schemas.insert(
        ERROR.into(),
        <domain::Error as utoipa::PartialSchema>::schema(),
    );
    doc
}

const OVERVIEW: &str = "\
The server functions are `POST /api/<endpoint>`: JSON in (or the same fields form-encoded, as \
browsers send them), JSON out. Booleans left out mean `false`; updates replace every field. \
Authenticate with the session cookie (after `auth/login`) or an API token \
(`Authorization: Token <token>`). The replication routes under `/sync/leader/` are for \
Subscribers and take the shared `SYNC_TOKEN` as a bearer token.\n\n\
Every error is JSON with a status that says what went wrong, and nothing is written: \
`{\"error\": kind, \"message\": …}`, with `field` where one field is at fault (see the `Error` \
schema). Kinds: `invalid` and `bad_request` (400), `unauthenticated` (401), `forbidden` (403), \
`not_found` (404), `conflict` (409), `too_large` (413), `faces` (422), `too_many_requests` (429, \
with `Retry-After`), `unavailable` (503, with `Retry-After`: nothing was stored), `internal` (500).";

/// The name of the error schema every failure answers with.
const ERROR: &str = "Error";

fn tags() -> Vec<Tag> {
    [
        ("auth", "Logging in and out."),
        ("site", "The installation."),
        ("watch-lists", "Watch lists: their settings and members."),
        ("dossiers", "Dossiers: people, with their photos."),
        ("photos", "Photos of dossiers, and their images."),
        ("faces", "Searching dossiers by a photo of a face."),
        (
            "events",
            "Monitoring: faces cameras saw, matched against the active watch lists, and the archive of them searched by face.",
        ),
        (
            "webhooks",
            "Where events of lists with `notify` are posted.",
        ),
        (
            "cameras",
            "The video streams this installation watches itself, with their live status (Administrators).",
        ),
        (
            "video",
            "Video workers on other machines: taking cameras, reporting them, posting what they see (the Video worker group).",
        ),
        (
            "users",
            "Accounts, groups, API tokens and login locks (Administrators).",
        ),
        (
            "imports",
            "Bulk imports of dossiers: a ZIP of a CSV and its photos, run in the background (Administrators).",
        ),
        ("audit", "Who changed what (Administrators)."),
        (
            "replication",
            "This installation's replicas of a Leader's lists (Administrators).",
        ),
        (
            "sites",
            "Matches flowing up: the Subscribers a Leader hears from, and what a Subscriber holds for its Leaders.",
        ),
        (
            "sync",
            "The Leader's replication feed and the Subscribers' matches (`SYNC_TOKEN`).",
        ),
        (
            "operations",
            "Health and metrics, for the people running the server.",
        ),
        ("reference", "This reference."),
        (
            "pages",
            "The web pages (HTML; every page works before its scripts load).",
        ),
    ]
    .into_iter()
    .map(|(name, about)| {
        let mut tag = Tag::new(name);
        tag.description = Some(about.into());
        tag
    })
    .collect()
}

/// Security for an operation: none, or the session cookie or an API token.
fn secured(operation: OperationBuilder, access: Access) -> OperationBuilder {
    match access {
        Access::Anyone => operation,
        Access::Member => operation
            .security(SecurityRequirement::new(SESSION, Vec::<String>::new()))
            .security(SecurityRequirement::new(TOKEN, Vec::<String>::new())),
    }
}

/// Every operation may fail with the one error format; those that say nothing more get it
/// here, so no route can forget it.
fn add_errors(doc: &mut OpenApi) {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::<utoipa::openapi::Schema>::Ref(
                        Ref::from_schema_name(ERROR),
                    )))
                    .build(),
            )
            .build()
    };
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            let responses = &mut operation.responses.responses;
            responses.entry("4XX".into()).or_insert_with(|| {
                error("refused: the request was wrong or not allowed; nothing changed").into()
            });
            responses.entry("5XX".into()).or_insert_with(|| {
                error("the server failed (the cause is in its log) or its database is away").into()
            });
        }
    }
}

fn operations_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The pages, so that the reference lists every route; their content is for people.
fn add_pages(doc: &mut OpenApi, pages: &[String]) {
    for path in pages {
        let page = ResponseBuilder::new()
            .description("the page")
            .content("text/html", ContentBuilder::new().build())
            .build();
        let operation = OperationBuilder::new()
            .tag("pages")
            .summary(Some(format!("The page at {path}.")))
            .response("200", page);
        let operation = secured(operation, Access::Member).build();
        doc.paths
            .add_path_operation(path, vec![HttpMethod::Get], operation);
    }
}

/// `#[utoipa::path]` makes a doc comment's first line the summary and the rest the description;
/// these comments are sentences wrapped at 100 columns, so the summary becomes the first
/// sentence and the description the whole comment.
fn whole_sentences(mut routes: OpenApi) -> OpenApi {
    for item in routes.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            let text = [operation.summary.take(), operation.description.take()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n");
            let text = unwrap_lines(&text);
            if !text.is_empty() {
                operation.summary = Some(first_sentence(&text));
                operation.description = Some(text);
            }
        }
    }
    routes
}

/// A doc comment's lines as one paragraph (blank lines still separate paragraphs).
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|paragraph| !paragraph.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The first sentence of a description: the operation's summary in lists.
fn first_sentence(text: &str) -> String {
    let ends_sentence =
        |(i, _): &(usize, &str)| text[i + 1..].chars().next().is_none_or(char::is_whitespace);
    let end = text
        .match_indices('.')
        .find(ends_sentence)
        .map(|(i, _)| i + 1)
        .unwrap_or(text.len());
    text[..end].to_string()
}
