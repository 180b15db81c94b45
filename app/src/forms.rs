//! Pieces shared by every form: the last submission's error, the components that show a
//! server error beside the field it is about, and the links a filter form's pages use. (How fields are read and checked is
//! `domain::input`.)

use crate::error::AppError;
use leptos::prelude::*;

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
