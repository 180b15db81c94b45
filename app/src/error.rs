//! The domain's error as it crosses HTTP, for server functions and REST routes alike. It
//! travels as the domain error's JSON (`{"error": kind, …}`), so the browser shows the same
//! message a curl user reads. On the server the status comes from the kind, set where the
//! error becomes a response: `IntoResponse` for the REST routes, and for server functions the
//! moment the framework serialises the error (`ser`), with no second pass over the body.

use serde::{Deserialize, Serialize};
use server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};

pub use domain::Error;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
#[error(transparent)]
pub struct AppError(pub Error);

pub type AppResult<T> = Result<T, AppError>;

impl std::ops::Deref for AppError {
    type Target = Error;

    fn deref(&self) -> &Error {
        &self.0
    }
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

#[cfg(feature = "ssr")]
impl From<engine::Error> for AppError {
    fn from(error: engine::Error) -> Self {
        Self(error.0)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self(match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                Error::bad_request(format!("malformed request: {m}"))
            }
            ServerFnErrorErr::Request(m) => Error::Internal {
                message: format!("the server could not be reached: {m}"),
            },
            other => Error::Internal {
                message: other.to_string(),
            },
        })
    }

    fn ser(&self) -> server_fn::Bytes {
        #[cfg(feature = "ssr")]
        ssr::set_status(&self.0);
        // The error is plain data; serialising it cannot fail.
        serde_json::to_vec(self)
            .map(server_fn::Bytes::from)
            .unwrap_or_default()
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::{AppError, Error};
    use axum::response::{IntoResponse, Response};
    use http::StatusCode;

    fn status(error: &Error) -> StatusCode {
        StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// A server function failed: its response gets the status the error's kind means. A plain
    /// HTML form post is left alone: it is redirected back to the form, which shows the error.
    pub(super) fn set_status(error: &Error) {
        use leptos::prelude::use_context;
        let from_form = use_context::<http::request::Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
        });
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if !from_form {
                response.set_status(status(error));
            }
            if let Some(seconds) = error.retry_after() {
                response.insert_header(http::header::RETRY_AFTER, seconds.into());
            }
        }
        log(error);
    }

    /// Refusals are the caller's doing and logged as information; server errors had their
    /// cause logged where they happened (e.g. the database error), and are noted here once more
    /// with the request's span.
    fn log(error: &Error) {
        if error.status() >= 500 {
            tracing::error!(error = %error, "request failed");
        } else {
            tracing::info!(error = %error, status = error.status(), "request refused");
        }
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            log(&self.0);
            let mut response = (status(&self.0), axum::Json(&self.0)).into_response();
            if let Some(seconds) = self.0.retry_after() {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, seconds.into());
            }
            response
        }
    }
}
