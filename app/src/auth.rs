//! Logging in and out, and the current user as the pages see it. Who may do what is
//! `domain::access`; how a request's caller is recognised is `caller`.

use crate::error::AppResult;
use crate::forms::{last_error, FormError};
pub use domain::access::{CurrentUser, Permission, GROUPS};
use leptos::prelude::*;

/// The caller of the current request, if logged in.
#[server(prefix = "/api", endpoint = "auth/me")]
pub async fn me() -> AppResult<Option<CurrentUser>> {
    let state = crate::state::app_state()?;
    crate::caller::user_of(&crate::caller::request_parts()?, &state).await
}

#[server(prefix = "/api", endpoint = "auth/login")]
pub async fn login(username: String, password: String) -> AppResult<CurrentUser> {
    use domain::{auth, Error};
    let state = crate::state::app_state()?;
    let user = auth::verify_password(&state.pool, username.trim(), &password)
        .await?
        .ok_or_else(|| Error::Unauthenticated {
            message: "wrong username or password, or the account is deactivated".into(),
        })?;
    let user = crate::caller::with_screens(user, &state);
    let token = auth::start_session(&state.pool, user.id).await?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.append_header(
        http::header::SET_COOKIE,
        http::HeaderValue::from_str(&crate::caller::session_cookie(&token))
            .map_err(|_| crate::error::AppError::from(Error::internal()))?,
    );
    leptos_axum::redirect("/");
    Ok(user)
}

#[server(prefix = "/api", endpoint = "auth/logout")]
pub async fn logout() -> AppResult<()> {
    let state = crate::state::app_state()?;
    let parts = crate::caller::request_parts()?;
    if let Some(token) = crate::caller::session_token(&parts.headers) {
        domain::auth::end_session(&state.pool, token).await?;
    }
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.append_header(
        http::header::SET_COOKIE,
        http::HeaderValue::from_static(crate::caller::CLEAR_SESSION_COOKIE),
    );
    leptos_axum::redirect("/login");
    Ok(())
}

/// The current user, loaded once per page and shared through context by the layout.
pub fn use_current_user() -> Option<CurrentUser> {
    use_context::<Option<CurrentUser>>().flatten()
}

#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <main class="login-page">
            <h1>"Dossier database"</h1>
            <LoginForm />
        </main>
    }
}

/// An island: a failed login shows its error without reloading the page.
#[island]
fn LoginForm() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = last_error(login.value());
    view! {
        <ActionForm action=login attr:class="card login-form">
            <h2>"Log in"</h2>
            <label>
                "Username"
                <input name="username" autocomplete="username" required autofocus />
            </label>
            <label>
                "Password"
                <input type="password" name="password" autocomplete="current-password" required />
            </label>
            <FormError error />
            <button type="submit" class="primary">"Log in"</button>
        </ActionForm>
    }
}
