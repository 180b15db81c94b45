//! The engine's error: the domain's [`domain::Error`] (what a caller is told), made here from the
//! database's errors too. This is the one place that decides what a database error means to
//! the caller: a unique constraint a user can run into is a conflict in their words, text
//! PostgreSQL cannot store is bad input, a database that is away is "try again", and anything
//! else is logged here and answered as an internal error whose cause never leaves the server.
//!
//! It is a type of its own only because the conversion from `sqlx::Error` must live beside the
//! SQL (the domain builds for the browser and knows no database); it reads as the domain's
//! error (`Deref`) and turns into it (`From`).

use std::ops::Deref;

/// An engine operation's refusal or failure, as the domain says it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(transparent)]
pub struct Error(pub domain::Error);

/// `Result` with the engine's error by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self(domain::Error::invalid(field, message))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self(domain::Error::bad_request(message))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self(domain::Error::not_found(message))
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self(domain::Error::conflict(field, message))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self(domain::Error::forbidden(message))
    }

    pub fn internal() -> Self {
        Self(domain::Error::internal())
    }

    /// Refused for now; `retry_after` says in how many seconds to try again.
    pub fn unavailable(message: impl Into<String>, retry_after: u64) -> Self {
        Self(domain::Error::Unavailable {
            message: message.into(),
            retry_after,
        })
    }
}

impl Deref for Error {
    type Target = domain::Error;

    fn deref(&self) -> &domain::Error {
        &self.0
    }
}

impl From<domain::Error> for Error {
    fn from(error: domain::Error) -> Self {
        Self(error)
    }
}

impl From<Error> for domain::Error {
    fn from(error: Error) -> Self {
        error.0
    }
}

/// The unique constraints a user can run into, and what each means in the user's words. The
/// names come from the migrations; every other database error is the server's problem.
const USER_CONSTRAINTS: &[(&str, &str, &str)] = &[
    (
        "watch_lists_name_key",
        "name",
        "a watch list with this name already exists",
    ),
    ("users_username_key", "username", "this username is taken"),
];

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        let constraint = error.as_database_error().and_then(|db| db.constraint());
        if let Some((_, field, message)) = USER_CONSTRAINTS
            .iter()
            .find(|(name, ..)| Some(*name) == constraint)
        {
            return Self::conflict(field, *message);
        }
        // Text PostgreSQL cannot store (a NUL that slipped past the checks): the caller's
        // input, not the server's fault.
        let code = error.as_database_error().and_then(|db| db.code());
        if matches!(code.as_deref(), Some("22021" | "22P05")) {
            tracing::warn!(error = %error, "text with a NUL reached the database");
            return Self::bad_request("text must not contain NUL or other control characters");
        }
        // The database down or out of connections: the client's request was fine and may be
        // sent again; saying so lets a camera keep its events instead of dropping them.
        if matches!(
            error,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
        ) {
            tracing::warn!(error = %error, "database unavailable");
            return Self::unavailable(
                "the database is unavailable; nothing was stored, try again shortly",
                5,
            );
        }
        // The one place a database error is logged; its text never leaves the server.
        tracing::error!(error = %error, "database error");
        Self::internal()
    }
}

/// Turns the violation of one named constraint into the error the caller chooses, where the
/// message needs more than the fixed words of [`USER_CONSTRAINTS`] (e.g. the id involved).
pub trait OnConstraint<T> {
    fn on_constraint(self, name: &str, error: impl FnOnce() -> Error) -> Result<T>;
}

impl<T> OnConstraint<T> for std::result::Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, error: impl FnOnce() -> Error) -> Result<T> {
        self.map_err(|e| {
            if e.as_database_error().and_then(|d| d.constraint()) == Some(name) {
                error()
            } else {
                e.into()
            }
        })
    }
}

/// A failed request to another server in words: reqwest's error without the URL (the pages show
/// it already), followed by its causes ("connection refused" is in the cause, not the error).
pub fn request_failure(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
