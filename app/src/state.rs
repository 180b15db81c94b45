//! What every server function and route reads: the installation (its parts: database,
//! replication, monitoring, faces), how this installation is reached on the web, and the Leptos
//! options. The server binary builds it from its configuration.

use crate::error::{AppError, AppResult};
use axum::extract::FromRef;
use engine::Installation;
use leptos::prelude::*;
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub installation: Installation,
    pub web: Arc<Web>,
}

/// How this installation meets the web: what the adapters need of the server's settings.
#[derive(Debug, Clone)]
pub struct Web {
    /// Largest photo upload, in bytes (`UPLOAD_LIMIT`).
    pub upload_limit: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpAddr>,
    pub cookie: SessionCookie,
}

/// The session cookie of this installation.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    /// Different for every installation: cookies do not tell ports apart, so two
    /// installations on one host would otherwise log each other out.
    pub name: String,
    /// Sent over HTTPS only (`EXTERNAL_ADDRESS` is https).
    pub secure: bool,
}

impl Default for Web {
    fn default() -> Self {
        Self {
            upload_limit: 10 * 1024 * 1024,
            trusted_proxies: Vec::new(),
            cookie: SessionCookie {
                name: "dossier_session".into(),
                secure: false,
            },
        }
    }
}

/// The state reads as the installation it serves (`state.pool`, `state.replication`), which
/// is what nearly every handler wants of it.
impl std::ops::Deref for AppState {
    type Target = Installation;

    fn deref(&self) -> &Installation {
        &self.installation
    }
}

/// The state of the running server; missing only if a server function is called outside the
/// server's routes, which is a programming error reported as an internal error.
pub fn app_state() -> AppResult<AppState> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from context");
        AppError::from(domain::Error::internal())
    })
}
