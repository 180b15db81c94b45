//! Pieces shared by every form: boolean flags as browsers send them, and the components that
//! show a server error beside the field it is about.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};

/// A boolean form field. A browser sends a checked checkbox as `on` and omits an unchecked one;
/// API callers send `true`/`false`. Omitted means false.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bool(b) => Ok(Flag(b)),
            Raw::Text(t) => match t.as_str() {
                "on" | "true" | "1" | "yes" => Ok(Flag(true)),
                "" | "off" | "false" | "0" | "no" => Ok(Flag(false)),
                other => Err(serde::de::Error::custom(format!(
                    "expected true or false, got {other:?}"
                ))),
            },
        }
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
                let message = match e {
                    AppError::Invalid { message, .. } | AppError::Conflict { message, .. } => {
                        message.clone()
                    }
                    other => other.to_string(),
                };
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

/// A required text field of at most `max` characters, trimmed.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, AppError> {
    let value = value.trim();
    let len = value.chars().count();
    if len == 0 {
        return Err(AppError::invalid(field, "must not be empty"));
    }
    if len > max {
        return Err(AppError::invalid(
            field,
            format!("must be at most {max} characters, got {len}"),
        ));
    }
    Ok(value.to_string())
}

/// An optional text field of at most `max` characters, trimmed.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String, AppError> {
    let value = value.trim();
    let len = value.chars().count();
    if len > max {
        return Err(AppError::invalid(
            field,
            format!("must be at most {max} characters, got {len}"),
        ));
    }
    Ok(value.to_string())
}
