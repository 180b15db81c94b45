//! Logging in and out, and the current user as the pages see it. Who may do what is
//! `domain::access`; how a request's caller is recognised is `caller`.

use crate::error::AppResult;
use crate::forms::{last_error, FormError, Typed};
pub use domain::access::{CurrentUser, Permission, GROUPS};
use leptos::prelude::*;

/// The caller of the current request, if logged in.
#[server(prefix = "/api", endpoint = "auth/me", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn me() -> AppResult<Option<CurrentUser>> {
    let state = crate::state::app_state()?;
    crate::caller::user_of(&crate::caller::request_parts()?, &state).await
}

/// Logs in, unless the account or the address is locked by failed logins (429, saying when to
/// try again). A failed attempt is answered after the throttle's delay.
#[server(prefix = "/api", endpoint = "auth/login", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn login(username: String, password: String) -> AppResult<CurrentUser> {
    use domain::audit::Actor;
    use domain::Error;
    use engine::audit::record;
    use engine::auth;
    let state = crate::state::app_state()?;
    let parts = crate::caller::request_parts()?;
    let address = crate::caller::client_address(&parts, &state.web.trusted_proxies);
    let username = username.trim();
    // What the log says of an attempt: the name tried, cut to a username's length.
    let tried = format!("as {:?}", username.chars().take(150).collect::<String>());
    if let Err(locked) = state.login_throttle.check(username, address) {
        let now = chrono::Utc::now();
        let summary = format!(
            "login {tried} refused: {} is locked",
            locked.subject.describe()
        );
        let anonymous = Actor::anonymous(address);
        record(
            &state.pool,
            &anonymous,
            "login_refused",
            ("session", None),
            &summary,
        )
        .await?;
        return Err(Error::TooManyRequests {
            message: format!(
                "too many failed logins for this {}: try again {} (at {} UTC), or ask an \
                 administrator to clear the lock",
                match locked.subject {
                    domain::logins::LoginSubject::Account(_) => "account",
                    domain::logins::LoginSubject::Address(_) => "address",
                },
                domain::logins::in_words(locked.retry_after(now)),
                locked.until.format("%H:%M:%S"),
            ),
            retry_after: locked.retry_after(now),
        }
        .into());
    }
    let Some(user) = auth::verify_password(&state.pool, username, &password).await? else {
        let wait = state.login_throttle.failed(username, address);
        let summary = format!("failed login {tried}");
        let anonymous = Actor::anonymous(address);
        record(
            &state.pool,
            &anonymous,
            "login_failed",
            ("session", None),
            &summary,
        )
        .await?;
        tokio::time::sleep(wait).await;
        return Err(Error::Unauthenticated {
            message: "wrong username or password, or the account is deactivated".into(),
        }
        .into());
    };
    state.login_throttle.succeeded(username);
    let user = crate::caller::with_screens(user, &state);
    let token = auth::sessions::start(&state.pool, user.id).await?;
    let subject = ("user", Some(user.id.to_string()));
    record(
        &state.pool,
        &Actor::person(&user, address),
        "login",
        subject,
        "logged in",
    )
    .await?;
    set_session_cookie(&state, &token)?;
    leptos_axum::redirect("/");
    Ok(user)
}

#[cfg(feature = "ssr")]
fn set_session_cookie(state: &crate::state::AppState, token: &str) -> AppResult<()> {
    let cookie = crate::caller::session_cookie(&state.web.cookie, token);
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.append_header(
        http::header::SET_COOKIE,
        http::HeaderValue::from_str(&cookie)
            .map_err(|_| crate::error::AppError::from(domain::Error::internal()))?,
    );
    Ok(())
}

/// Ends the caller's session.
#[server(prefix = "/api", endpoint = "auth/logout", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn logout() -> AppResult<()> {
    let state = crate::state::app_state()?;
    let parts = crate::caller::request_parts()?;
    if let Some(token) = crate::caller::session_token(&state.web.cookie, &parts.headers) {
        engine::auth::sessions::end(&state.pool, token).await?;
    }
    set_session_cookie(&state, "")?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Ends every session of a user: yourself (no `id`, or your own), or, for an Administrator,
/// anyone. Returns how many sessions ended.
#[server(prefix = "/api", endpoint = "auth/logout-everywhere", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn logout_everywhere(#[server(default)] id: Option<i64>) -> AppResult<u64> {
    let (state, me) = crate::caller::require(Permission::Read, "log out").await?;
    let user = id.unwrap_or(me.id);
    if user != me.id {
        me.clone().may(Permission::Admin, "log out other users")?;
        engine::users::get(&state.pool, user).await?;
    }
    let ended = engine::auth::sessions::end_all(&state.pool, user).await?;
    let summary = format!("logged out everywhere: {ended} session(s) ended");
    let subject = ("user", Some(user.to_string()));
    let actor = crate::caller::actor(&me)?;
    engine::audit::record(&state.pool, &actor, "logout_everywhere", subject, &summary).await?;
    if user == me.id {
        set_session_cookie(&state, "")?;
        leptos_axum::redirect("/login");
    } else {
        crate::notice::redirect("/users", "sessions-ended");
    }
    Ok(ended)
}

/// The current user, loaded once per page and shared through context by the layout.
pub fn use_current_user() -> Option<CurrentUser> {
    use_context::<Option<CurrentUser>>().flatten()
}

#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <main class="login-page">
            <crate::site::PageTitle text="Log in" />
            <h1>"Dossier database"</h1>
            <p><crate::site::SiteName /></p>
            <LoginForm typed=Typed::from_query() />
        </main>
    }
}

/// An island: a failed login shows its error without reloading the page.
#[island]
fn LoginForm(typed: Typed) -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = last_error(login.value());
    view! {
        <ActionForm action=login attr:class="card login-form">
            <h2>"Log in"</h2>
            <label>
                "Username"
                <input name="username" value=typed.text("username", String::new()) autocomplete="username" required autofocus />
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
