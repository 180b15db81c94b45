//! Who is calling, one extractor per kind of caller, for server functions and REST routes
//! alike: `Caller`, a logged-in user (session cookie or `Authorization: Token …`), looked up
//! once per request and checked with `may(permission)`; and `SyncPeer`, a Subscriber that
//! presents the shared sync token (`Authorization: Bearer …`, compared in constant time).
//! Also where a request came from (`client_address`) and the session cookie's shape.

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::state::SessionCookie;
use axum::extract::{FromRef, FromRequestParts};
use domain::access::{CurrentUser, Permission};
use domain::Error;
use engine::auth::{self, sessions, UserKey};
use http::{request::Parts, HeaderMap};
use std::net::{IpAddr, SocketAddr};

/// HttpOnly keeps scripts away from it; SameSite=Lax keeps other sites from submitting our
/// forms with it (the server also rejects cross-origin POSTs); Secure when the installation
/// is reached over HTTPS. An empty `token` with no lifetime clears it.
pub fn session_cookie(cookie: &SessionCookie, token: &str) -> String {
    let max_age = if token.is_empty() {
        0
    } else {
        sessions::SESSION_DAYS * 86400
    };
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        cookie.name,
        if cookie.secure { "; Secure" } else { "" }
    )
}

pub fn session_token<'h>(cookie: &SessionCookie, headers: &'h HeaderMap) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie.name)
        .map(|(_, value)| value)
}

/// The address the request came from: the peer of its connection, or, when that peer is one
/// of the installation's `TRUSTED_PROXIES`, the client it names last in `X-Forwarded-For` (the
/// address the proxy itself saw; earlier entries are the client's to invent).
pub fn client_address(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .next_back();
    Some(forwarded.unwrap_or(peer))
}

fn api_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Token ")
        .map(str::trim)
}

/// The active user behind a request's API token or session cookie.
async fn user_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> AppResult<Option<CurrentUser>> {
    let credential = match (
        api_token(headers),
        session_token(&state.web.cookie, headers),
    ) {
        (Some(token), _) => UserKey::ApiToken(token),
        (None, Some(secret)) => UserKey::Session {
            secret,
            idle_minutes: state.settings.accounts.idle_minutes(),
        },
        (None, None) => return Ok(None),
    };
    let user = auth::active_user(&state.pool, credential).await?;
    Ok(user.map(|user| with_screens(user, state)))
}

/// Fills in what the installation's settings let this user see: the Replication screens are
/// for administrators, unless `SYNC_WEB_UI=false`.
pub fn with_screens(mut user: CurrentUser, state: &AppState) -> CurrentUser {
    user.replication_screens = state.replication.settings.web_ui && user.can(Permission::Admin);
    user
}

/// The caller of one request, looked up once however many server functions a page render
/// calls (each would otherwise query the session again). Put in the request's extensions by
/// [`with_caller_cache`]; the request's parts are shared by all the render's calls.
#[derive(Clone, Default)]
pub struct CallerCache(std::sync::Arc<tokio::sync::OnceCell<Option<CurrentUser>>>);

pub async fn with_caller_cache(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    request.extensions_mut().insert(CallerCache::default());
    next.run(request).await
}

/// The user behind a request, if logged in.
pub async fn user_of(parts: &Parts, state: &AppState) -> AppResult<Option<CurrentUser>> {
    match parts.extensions.get::<CallerCache>() {
        Some(cache) => cache
            .0
            .get_or_try_init(|| user_from_headers(state, &parts.headers))
            .await
            .cloned(),
        None => user_from_headers(state, &parts.headers).await,
    }
}

/// A logged-in, active user, and the address they call from. Refuses with 401 otherwise.
pub struct Caller(pub CurrentUser, pub Option<IpAddr>);

impl Caller {
    /// The caller if their group holds `permission`; `doing` completes "your group … may not
    /// …" in the 403.
    pub fn may(self, permission: Permission, doing: &str) -> AppResult<CurrentUser> {
        Ok(self.0.may(permission, doing)?)
    }

    /// The caller as the audit log names them, if their group holds `permission`.
    pub fn acting(self, permission: Permission, doing: &str) -> AppResult<domain::audit::Actor> {
        let address = self.1;
        let user = self.may(permission, doing)?;
        Ok(domain::audit::Actor::person(&user, address))
    }
}

impl<S> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> AppResult<Self> {
        let state = AppState::from_ref(state);
        let address = client_address(parts, &state.web.trusted_proxies);
        user_of(parts, &state)
            .await?
            .map(|user| Caller(user, address))
            .ok_or_else(|| Error::unauthenticated().into())
    }
}

/// The gate at the top of every server function: the caller must be logged in and hold
/// `permission` (through the same extractor the REST routes use).
pub async fn require(permission: Permission, doing: &str) -> AppResult<(AppState, CurrentUser)> {
    let state = crate::state::app_state()?;
    let mut parts = request_parts()?;
    let caller = Caller::from_request_parts(&mut parts, &state).await?;
    Ok((state, caller.may(permission, doing)?))
}

/// The caller of this request as the audit log names them: user and address.
pub fn actor(user: &CurrentUser) -> AppResult<domain::audit::Actor> {
    let state = crate::state::app_state()?;
    let address = client_address(&request_parts()?, &state.web.trusted_proxies);
    Ok(domain::audit::Actor::person(user, address))
}

/// Runs one write in a transaction the audit log records as the caller's (see
/// `engine::audit`), and commits it.
pub async fn write<T>(
    state: &AppState,
    user: &CurrentUser,
    change: impl AsyncFnOnce(&mut engine::audit::Db) -> engine::Result<T>,
) -> AppResult<T> {
    Ok(engine::audit::write(&state.pool, &actor(user)?, change).await?)
}

/// Whether the request comes from a page's plain form (the browser asks for HTML), to be
/// answered with a redirect to a page rather than with JSON.
pub fn from_page() -> AppResult<bool> {
    Ok(request_parts()?
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html")))
}

/// The request a server function serves (leptos_axum provides it). Not `extract_with_state`:
/// that one turns the extractor's refusal into text and would lose its status.
pub fn request_parts() -> AppResult<Parts> {
    leptos::prelude::use_context::<Parts>().ok_or_else(|| {
        tracing::error!("request parts missing from context");
        Error::internal().into()
    })
}

/// A Subscriber presenting the shared sync token. Nothing about the token is logged.
pub struct SyncPeer;

impl<S> FromRequestParts<S> for SyncPeer
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> AppResult<Self> {
        let state = AppState::from_ref(state);
        let token = &state.replication.settings.token;
        if !token.is_set() {
            return Err(Error::Unauthenticated {
                message: "replication is off on this Leader (SYNC_TOKEN is not set)".into(),
            }
            .into());
        }
        let offered = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if token.matches(offered) {
            Ok(SyncPeer)
        } else {
            Err(Error::Unauthenticated {
                message: "wrong or missing sync token".into(),
            }
            .into())
        }
    }
}
