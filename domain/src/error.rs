//! The one error type of the dossier database. Every refusal names its kind, and for bad input
//! the field it is about, so the browser shows the same message a curl user reads. The HTTP
//! status follows from the kind (`status`); the adapters (server functions, REST routes) turn it
//! into a response in one place each. What a database error means to the caller (a taken name,
//! a database away) is decided where the SQL is, in the engine.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error, utoipa::ToSchema)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum Error {
    /// A field of the request is wrong; `field` names it so the UI can show it beside the input.
    /// Shown to people with the field's label ("Leader URL: …"), never its internal name.
    #[error("{}: {message}", label(field))]
    Invalid { field: String, message: String },
    /// The request could not even be read (malformed JSON, a missing argument…).
    #[error("{message}")]
    BadRequest { message: String },
    #[error("{message}")]
    NotFound { message: String },
    /// A photo that must show exactly one face shows none or several; `found` says where the
    /// faces are (in the upright photo's pixels), so that the page can draw them on the preview.
    #[error("{}: {message}", label("image"))]
    Faces {
        message: String,
        found: Vec<crate::face_box::FaceBox>,
        /// The upright photo's size, the frame of `found`.
        width: u32,
        height: u32,
    },
    /// A unique name already taken, or a state that forbids the change.
    #[error("{}: {message}", label(field))]
    Conflict { field: String, message: String },
    #[error("{message}")]
    Unauthenticated { message: String },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{message}")]
    TooLarge { message: String },
    /// Refused for now (a locked login); `retry_after` says in how many seconds to try again.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// The database cannot be reached for now; nothing was stored. `retry_after` in seconds.
    #[error("{message}")]
    Unavailable { message: String, retry_after: u64 },
    /// Anything the user cannot fix. The cause is logged on the server, never sent.
    #[error("{message}")]
    Internal { message: String },
}

/// What a form calls a field, for messages people read: the API's field names are the seed's
/// (`slave_dossier_list`), not words.
pub fn label(field: &str) -> String {
    let known = match field {
        "remote_url" => "Leader URL",
        "remote_dossier_list" => "Leader's list",
        "slave_dossier_list" => "Local list",
        "watch_lists" => "Watch lists",
        "q" => "Search",
        "dossier_id" => "Dossier",
        "image" => "Image",
        "id" => "Id",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let words = field.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

/// `Result` with the domain's error by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
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
            Self::Faces { .. } => 422,
            Self::TooLarge { .. } => 413,
            Self::TooManyRequests { .. } => 429,
            Self::Unavailable { .. } => 503,
            Self::Internal { .. } => 500,
        }
    }

    /// Seconds after which the request may succeed, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The field this error is about, if any: forms show the message beside that input.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } | Self::Conflict { field, .. } => Some(field),
            Self::Faces { .. } => Some("image"),
            _ => None,
        }
    }

    /// The message without the field's name, for showing beside that field.
    pub fn message(&self) -> &str {
        match self {
            Self::Invalid { message, .. }
            | Self::BadRequest { message }
            | Self::NotFound { message }
            | Self::Conflict { message, .. }
            | Self::Faces { message, .. }
            | Self::Unauthenticated { message }
            | Self::Forbidden { message }
            | Self::TooLarge { message }
            | Self::TooManyRequests { message, .. }
            | Self::Unavailable { message, .. }
            | Self::Internal { message } => message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_travel_as_tagged_json() {
        let e = Error::invalid("name", "must not be empty");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"error":"invalid","field":"name","message":"must not be empty"}"#
        );
        assert_eq!(serde_json::from_str::<Error>(&json).unwrap(), e);
        assert_eq!(e.to_string(), "Name: must not be empty");
        let url = Error::invalid("remote_url", "is not a URL");
        assert_eq!(url.to_string(), "Leader URL: is not a URL");
        assert_eq!(label("confidence_threshold"), "Confidence threshold");
        assert_eq!(e.message(), "must not be empty");
        assert_eq!(e.status(), 400);
        assert_eq!(Error::not_found("x").field(), None);
    }
}
