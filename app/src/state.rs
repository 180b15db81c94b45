//! What every server function and route reads: the installation (database, settings,
//! scheduler) and the Leptos options. The server binary builds it from its configuration.

use crate::error::{AppError, AppResult};
use axum::extract::FromRef;
use engine::Installation;
use leptos::prelude::*;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub installation: Installation,
}

/// The state reads as the installation it serves (`state.pool`, `state.settings`), which is
/// what nearly every handler wants of it.
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
