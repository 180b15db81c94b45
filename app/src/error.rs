//! The one error type of the app. It crosses the wire as JSON (`{"error": kind, …}`), so the
//! browser shows the same message a curl user reads; the HTTP status is derived from the kind
//! (see `status`), set by the server's API layer.

use serde::{Deserialize, Serialize};
use server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AppError {
    /// A field of the request is wrong; `field` names it so the UI can show it beside the input.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request could not even be read (malformed JSON, a missing argument…).
    #[error("{message}")]
    BadRequest { message: String },
    #[error("{message}")]
    NotFound { message: String },
    /// A unique name already taken, or a state that forbids the change.
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    #[error("{message}")]
    Unauthenticated { message: String },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{message}")]
    TooLarge { message: String },
    /// Anything the user cannot fix. The cause is logged on the server, never sent.
    #[error("{message}")]
    Internal { message: String },
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
        }
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
        }
    }

    pub fn unauthenticated() -> Self {
        Self::Unauthenticated {
            message: "log in first (session cookie or `Authorization: Token …`)".into(),
        }
    }

    pub fn internal() -> Self {
        Self::Internal {
            message: "internal error; the server log has the cause".into(),
        }
    }

    /// The HTTP status an API caller receives for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid { .. } | Self::BadRequest { .. } => 400,
            Self::Unauthenticated { .. } => 401,
            Self::Forbidden { .. } => 403,
            Self::NotFound { .. } => 404,
            Self::Conflict { .. } => 409,
            Self::TooLarge { .. } => 413,
            Self::Internal { .. } => 500,
        }
    }

    /// The field this error is about, if any: forms show the message beside that input.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } | Self::Conflict { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => Self::BadRequest {
                message: format!("malformed request: {m}"),
            },
            ServerFnErrorErr::Request(m) => Self::Internal {
                message: format!("the server could not be reached: {m}"),
            },
            other => Self::Internal {
                message: other.to_string(),
            },
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        // A few constraint violations are the user's doing and deserve a precise message; the
        // named constraints come from the migrations.
        if let Some(db) = error.as_database_error() {
            match db.constraint() {
                Some("watch_lists_name_key") => {
                    return Self::conflict("name", "a watch list with this name already exists")
                }
                Some("users_username_key") => {
                    return Self::conflict("username", "this username is taken")
                }
                _ => {}
            }
        }
        tracing::error!(error = %error, "database error");
        Self::internal()
    }
}

pub type AppResult<T> = Result<T, AppError>;
