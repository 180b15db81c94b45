//! Pieces shared by every form: the last submission's error, and the components that show a
//! server error beside the field it is about. (How fields are read and checked is
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
