//! Pieces shared by every form: the last submission's error, the components that show a
//! server error beside the field it is about, and the links a filter form's pages use. (How fields are read and checked is
//! `domain::input`.)

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What was typed into a form the server refused, when the form was sent without JavaScript:
/// the server sends the browser back to the form's page with the fields in `__typed` (see the
/// server's `form_arguments`), and the page puts them back into the inputs, as the island does
/// by itself when JavaScript runs. Passwords never come back. Empty when nothing was refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Typed(Vec<(String, String)>);

impl Typed {
    /// The fields handed back to the page being rendered (read on the server, passed to the
    /// form's island as a prop).
    pub fn from_query() -> Self {
        let typed = leptos_router::hooks::use_query_map()
            .with_untracked(|q| q.get("__typed"))
            .unwrap_or_default();
        Self(
            form_urlencoded::parse(typed.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What was typed into `name`, or `default` when nothing was handed back.
    pub fn text(&self, name: &str, default: String) -> String {
        if self.is_empty() {
            return default;
        }
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Whether the checkbox `name` was ticked, or `default` when nothing was handed back.
    pub fn ticked(&self, name: &str, default: bool) -> bool {
        if self.is_empty() {
            return default;
        }
        self.0.iter().any(|(n, _)| n == name)
    }

    /// Every value of a repeated field (`watch_lists[]`), or `default`.
    pub fn all(&self, name: &str, default: Vec<String>) -> Vec<String> {
        if self.is_empty() {
            return default;
        }
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The error of the last submission, if any.
pub fn last_error<T, V>(value: V) -> Signal<Option<AppError>>
where
    V: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(Result::err))
}

/// The message for one field, shown under its input.
#[component]
pub fn FieldError(error: Signal<Option<AppError>>, field: &'static str) -> impl IntoView {
    move || {
        error.with(|e| {
            e.as_ref().filter(|e| e.field() == Some(field)).map(|e| {
                let message = e.message().to_string();
                view! { <p class="field-error" role="alert" data-field=field>{message}</p> }
            })
        })
    }
}

/// An error that is not about one field (permission, not found, server trouble), or about a
/// field the form does not show.
#[component]
pub fn FormError(
    error: Signal<Option<AppError>>,
    #[prop(default = &[])] fields: &'static [&'static str],
) -> impl IntoView {
    move || {
        error.with(|e| {
            e.as_ref()
                .filter(|e| e.field().is_none_or(|f| !fields.contains(&f)))
                .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
        })
    }
}

/// A count with its noun: "1 dossier", "3 dossiers", "no dossiers".
pub fn count(n: impl Into<i64>, one: &str, many: &str) -> String {
    match n.into() {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// A page's address with its filters as the query (empty values left out), for the paging
/// links of a filtered list, which work without JavaScript.
pub fn link(path: &str, params: &[(&str, String)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// Percent-encodes a query value (no dependency needed for this one use).
fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
